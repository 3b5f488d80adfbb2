import assert from "node:assert/strict";
import { test } from "node:test";
import { textForSpeech, unspeakable } from "./speech-text";

test("speech text - strips emojis, including joined sequences, flags and skin tones", () => {
  assert.equal(textForSpeech("Great job! 🎉👍🏽 See you 👨‍👩‍👧 soon 🇮🇳."), "Great job! See you soon.");
  assert.equal(textForSpeech("Sunny ☀️ today"), "Sunny today");
});

test("speech text - strips markdown emphasis, headings, lists and quotes but keeps the words", () => {
  const md = "# Weather\n**Today** is *warm* and __dry__.\n- Bring water\n1. Wear a hat\n> Stay cool";
  assert.equal(textForSpeech(md), "Weather Today is warm and dry. Bring water Wear a hat Stay cool");
  assert.equal(textForSpeech("Use the snake_case name my_var here."), "Use the snake_case name my_var here.");
});

test("speech text - drops code blocks and bare URLs, keeps link text and inline code text", () => {
  const md =
    "Run this:\n```js\nconsole.log(1)\n```\nThen see [the docs](https://example.com/docs) or https://example.com/x?y=1.";
  assert.equal(textForSpeech(md), "Run this: Then see the docs or.");
  assert.equal(
    textForSpeech("Type `ls` and press enter. Visit www.example.org today"),
    "Type ls and press enter. Visit today",
  );
});

test("speech text - keeps numbers, decimals, currency and times intact", () => {
  assert.equal(
    textForSpeech("It costs $1,299.99, about 3.5 % more, at 10:30 a.m."),
    "It costs $1,299.99, about 3.5 % more, at 10:30 a.m.",
  );
  assert.equal(textForSpeech("-5 degrees"), "-5 degrees");
});

test("speech text - reports text with nothing to say", () => {
  assert.equal(unspeakable(textForSpeech("🎉 ** --- ")), true);
  assert.equal(unspeakable("42"), false);
});
