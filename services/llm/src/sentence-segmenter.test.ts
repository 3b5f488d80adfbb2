import assert from "node:assert/strict";
import { test } from "node:test";
import { SentenceSegmenter } from "./sentence-segmenter";

const limits = { minChars: 12, maxChars: 120 };

/** Feeds text in small deltas, as a model streams it, and collects every segment. */
function segmentStream(text: string, step = 3, l = limits): { segments: string[]; readyAt: number[] } {
  const seg = new SentenceSegmenter(l);
  const segments: string[] = [];
  const readyAt: number[] = [];
  for (let i = 0; i < text.length; i += step) {
    for (const s of seg.push(text.slice(i, i + step))) {
      segments.push(s);
      readyAt.push(i + step);
    }
  }
  segments.push(...seg.flush());
  return { segments, readyAt };
}

test("segmenter - emits each sentence as soon as the next one begins", () => {
  const text = "The sky is blue today. It will rain tomorrow! Do you need an umbrella?";
  const { segments, readyAt } = segmentStream(text);
  assert.deepEqual(segments, ["The sky is blue today.", "It will rain tomorrow!", "Do you need an umbrella?"]);
  assert.ok((readyAt[0] ?? 0) <= text.indexOf("It") + 3, "the first sentence is ready before the answer ends");
});

test("segmenter - does not split abbreviations, decimals or times", () => {
  const text = "Dr. Smith paid $3.50 at 5 p.m. yesterday. Mr. Jones saw e.g. the 2.5 km walk. Fine.";
  assert.deepEqual(segmentStream(text, 2).segments, [
    "Dr. Smith paid $3.50 at 5 p.m. yesterday.",
    "Mr. Jones saw e.g. the 2.5 km walk.",
    "Fine.",
  ]);
});

test("segmenter - joins sentences shorter than the minimum, except the last", () => {
  assert.deepEqual(segmentStream("Yes. Sure. The train leaves at noon. Ok.").segments, [
    "Yes. Sure. The train leaves at noon.",
    "Ok.",
  ]);
});

test("segmenter - cuts a sentence longer than the maximum at a clause or word boundary", () => {
  const long = `${"word ".repeat(30)}and then, ${"more ".repeat(30)}end.`;
  const { segments } = segmentStream(long, 5, { minChars: 5, maxChars: 60 });
  assert.ok(segments.length > 2);
  for (const s of segments) assert.ok(s.length <= 60, `segment of ${s.length} chars`);
  assert.equal(segments.join(" ").replace(/\s+/g, " "), long.trim().replace(/\s+/g, " "));
});

test("segmenter - cleans markdown and emojis and never speaks code", () => {
  const text =
    "**Sure!** 😀 Here is code:\n```python\nprint('Hello. World.')\n```\nThat prints a greeting. See https://x.io for more.";
  assert.deepEqual(segmentStream(text, 4).segments, [
    "Sure! Here is code:",
    "That prints a greeting.",
    "See for more.",
  ]);
});

test("segmenter - numbered lists become one segment per item", () => {
  const text = "Three steps:\n1. Open the app.\n2. Tap start now.\n3. Speak clearly.";
  assert.deepEqual(segmentStream(text, 3, { minChars: 5, maxChars: 120 }).segments, [
    "Three steps:",
    "Open the app.",
    "Tap start now.",
    "Speak clearly.",
  ]);
});

test("segmenter - an unclosed code block at the end is dropped, emoji-only text yields nothing", () => {
  assert.deepEqual(segmentStream("Look at this one.\n```\ncode that never closes. more.").segments, [
    "Look at this one.",
  ]);
  assert.deepEqual(segmentStream("🎉🎉 👍").segments, []);
});
