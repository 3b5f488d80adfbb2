import assert from "node:assert/strict";
import { test } from "node:test";
import { normaliseSentences, splitLong, splitSentences } from "./sentences";

test("sentences - splits text at sentence ends and keeps decimals whole", () => {
  assert.deepEqual(splitSentences("Hello there. It is 5.5 metres tall! Is it?  Yes", 400), [
    "Hello there.",
    "It is 5.5 metres tall!",
    "Is it?",
    "Yes",
  ]);
});

test("sentences - drops pieces with nothing speakable and control characters", () => {
  assert.deepEqual(splitSentences("... \n\n Hi\u0000 there.\u200b", 400), ["Hi there."]);
  assert.deepEqual(splitSentences("!! ... ?", 400), []);
  assert.deepEqual(normaliseSentences(["", "  ", "One.", "\t"], 400), ["One."]);
});

test("sentences - cuts an over-long sentence at a clause, then a word boundary", () => {
  const s = `${"word ".repeat(30)}and then, ${"more ".repeat(30)}`.trim();
  const parts = splitLong(s, 100);
  assert.ok(parts.length > 1);
  for (const p of parts) assert.ok(p.length <= 100, `piece of ${p.length}`);
  assert.equal(parts.join(" ").replace(/\s+/g, " "), s);
});

test("sentences - cuts text without spaces hard at the limit", () => {
  const parts = splitLong("x".repeat(250), 100);
  assert.deepEqual(
    parts.map((p) => p.length),
    [100, 100, 50],
  );
});

test("sentences - espeak-ng phoneme brackets are broken up, other brackets kept", () => {
  assert.deepEqual(splitSentences("Say [[h@l'oU]] now. See [note].", 400), ["Say [ [h@l'oU]] now.", "See [note]."]);
  assert.deepEqual(normaliseSentences(["[[[x]]]"], 400), ["[ [ [x]]]"]);
});
