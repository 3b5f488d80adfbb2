import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Resampler } from "./resample";

function sine(rate: number, hz: number, seconds: number, amplitude = 0.5): Float32Array {
  const out = new Float32Array(Math.round(rate * seconds));
  for (let i = 0; i < out.length; i++) out[i] = amplitude * Math.sin((2 * Math.PI * hz * i) / rate);
  return out;
}

/** Zero crossings per second of PCM16: twice the frequency of a sine. */
function crossingsPerSecond(pcm: Int16Array, rate: number): number {
  let n = 0;
  for (let i = 1; i < pcm.length; i++) if (pcm[i - 1]! < 0 !== pcm[i]! < 0) n++;
  return n / (pcm.length / rate);
}

describe("resampling to 16 kHz", () => {
  for (const rate of [48_000, 44_100, 16_000, 8_000]) {
    it(`resample - ${rate} Hz in odd-sized chunks gives 16000 samples a second and keeps a 440 Hz tone`, () => {
      const input = sine(rate, 440, 1);
      const r = new Resampler(rate);
      const parts: Int16Array[] = [];
      for (let at = 0; at < input.length; at += 333) parts.push(r.push(input.subarray(at, at + 333)));
      const total = parts.reduce((a, p) => a + p.length, 0);
      // Up to one input sample is held back until the next chunk (its interpolation needs it).
      assert.ok(Math.abs(total - 16_000) <= 2, `${total} samples`);
      const pcm = new Int16Array(total);
      let at = 0;
      for (const p of parts) {
        pcm.set(p, at);
        at += p.length;
      }
      const hz = crossingsPerSecond(pcm, 16_000) / 2;
      assert.ok(Math.abs(hz - 440) < 5, `${hz} Hz`);
      const peak = Math.max(...pcm.map(Math.abs));
      assert.ok(peak > 14_000 && peak <= 16_500, `peak ${peak}`);
    });
  }

  it("resample - clips to int16 and refuses a bad rate", () => {
    const r = new Resampler(16_000);
    assert.deepEqual([...r.push(new Float32Array([2, -2, 0]))], [32767, -32768, 0]);
    assert.throws(() => new Resampler(0), /positive/);
  });
});
