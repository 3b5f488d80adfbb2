import assert from "node:assert/strict";
import { test } from "node:test";
import { tone } from "../testing/harness";
import { AudioQualityMeter } from "./quality";

test("stt quality - a steady tone has the RMS, peak and speech ratio of a sine", () => {
  const meter = new AudioQualityMeter(16_000, 200);
  const pcm = tone(440, 1_000, 1_000);
  // Fed in uneven pieces: figures must not depend on chunking.
  meter.add(pcm.subarray(0, 123));
  meter.add(pcm.subarray(123));
  const q = meter.figures();
  assert.equal(q.durationMs, 1_000);
  assert.ok(Math.abs(q.rms - 1_000 / Math.SQRT2) < 5, `rms ${q.rms}`);
  assert.ok(q.peak >= 999 && q.peak <= 1_000);
  assert.equal(q.clippingRatio, 0);
  assert.equal(q.speechRatio, 1);
});

test("stt quality - silence, clipping and empty input", () => {
  const silent = new AudioQualityMeter(16_000, 200);
  silent.add(new Int16Array(16_000));
  assert.deepEqual(silent.figures(), { durationMs: 1_000, rms: 0, peak: 0, clippingRatio: 0, speechRatio: 0 });

  const loud = new AudioQualityMeter(16_000, 200);
  loud.add(Int16Array.from({ length: 1_600 }, (_, i) => (i % 2 ? 32_767 : -32_768)));
  const q = loud.figures();
  assert.equal(q.clippingRatio, 1);
  assert.equal(q.peak, 32_767);

  const none = new AudioQualityMeter(16_000, 200).figures();
  assert.deepEqual(none, { durationMs: 0, rms: 0, peak: 0, clippingRatio: 0, speechRatio: 0 });
});
