import assert from "node:assert/strict";
import { test } from "node:test";
import { normalise, wordEdits, wordErrorRate } from "./wer";

test("stt bench - normalisation drops sentence marks, ids and punctuation", () => {
  assert.deepEqual(normalise("<s> He was NOT ill-disposed. </s> (file-0880)"), ["he", "was", "not", "ill", "disposed"]);
});

test("stt bench - word error rate counts substitutions, insertions and deletions", () => {
  assert.equal(wordEdits(["a", "b", "c"], ["a", "x", "c", "d"]), 2);
  assert.equal(wordEdits([], ["a"]), 1);
  assert.equal(wordErrorRate([{ reference: "go forward ten meters", hypothesis: "go forward can meters" }]), 25);
  assert.equal(wordErrorRate([{ reference: "a b", hypothesis: "a b" }]), 0);
});
