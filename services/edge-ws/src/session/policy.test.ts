import assert from "node:assert/strict";
import { test } from "node:test";
import type { stt } from "@hotpin/contracts";
import { type RerecordPolicy, rerecordReason } from "./policy";

const policy: RerecordPolicy = {
  minConfidence: 0.5,
  minDurationMs: 500,
  silenceRms: 50,
  loudRms: 5000,
  maxClippingRatio: 0.05,
};

function final(text: string, confidence: number, quality: Partial<stt.AudioQuality> = {}): stt.FinalResult {
  return {
    text,
    confidence,
    words: [],
    engine: "test",
    processingMs: 1,
    quality: { durationMs: 2000, rms: 800, peak: 9000, clippingRatio: 0, speechRatio: 0.6, ...quality },
  };
}

test("re-record policy - a clear transcript passes", () => {
  assert.equal(rerecordReason(final("go forward", 0.9), policy), undefined);
});

test("re-record policy - each trigger of the seed has its reason", () => {
  assert.equal(rerecordReason(final("", 0), policy), "empty_transcript");
  assert.equal(rerecordReason(final("go", 0.49), policy), "low_confidence");
  assert.equal(rerecordReason(final("go", 0.9, { durationMs: 499 }), policy), "too_short");
  assert.equal(rerecordReason(final("go", 0.9, { rms: 49 }), policy), "silence");
  assert.equal(rerecordReason(final("go", 0.9, { rms: 5001 }), policy), "too_loud");
  assert.equal(rerecordReason(final("go", 0.9, { clippingRatio: 0.2 }), policy), "too_loud");
});

test("re-record policy - silence wins over an empty transcript", () => {
  assert.equal(rerecordReason(final("", 0, { rms: 3 }), policy), "silence");
});
