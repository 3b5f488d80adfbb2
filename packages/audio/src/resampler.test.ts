import assert from "node:assert/strict";
import { test } from "node:test";
import { pcmBytes, pcmSamples, Resampler } from "./resampler";

function tone(hz: number, ms: number, amplitude: number, rate: number): Int16Array {
  const n = Math.round((rate * ms) / 1000);
  return Int16Array.from({ length: n }, (_, i) => Math.round(amplitude * Math.sin((2 * Math.PI * hz * i) / rate)));
}

function rms(pcm: Int16Array, skip = 200): number {
  const body = pcm.subarray(skip, pcm.length - skip);
  let sum = 0;
  for (const s of body) sum += s * s;
  return Math.sqrt(sum / body.length);
}

function crossings(pcm: Int16Array): number {
  let n = 0;
  for (let i = 1; i < pcm.length; i++) if ((pcm[i - 1] as number) < 0 !== (pcm[i] as number) < 0) n++;
  return n;
}

function inChunks(input: Int16Array, from: number, to: number, chunk: number): Int16Array {
  const r = new Resampler(from, to);
  const parts: Int16Array[] = [];
  for (let at = 0; at < input.length; at += chunk) parts.push(r.push(input.subarray(at, at + chunk)));
  parts.push(r.flush());
  const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

test("resampler - 24 kHz to 16 kHz and back keeps a 1 kHz tone's pitch, level and length", () => {
  for (const [from, to] of [
    [24_000, 16_000],
    [16_000, 24_000],
    [48_000, 16_000],
    [8_000, 16_000],
  ] as const) {
    const out = inChunks(tone(1_000, 1_000, 10_000, from), from, to, 637);
    assert.equal(out.length, to, `${from}→${to} length`);
    assert.ok(Math.abs(crossings(out) - 2_000) <= 2, `${from}→${to} crossings ${crossings(out)}`);
    assert.ok(Math.abs(rms(out) - 10_000 / Math.SQRT2) < 150, `${from}→${to} rms ${rms(out)}`);
  }
});

test("resampler - a tone above the new Nyquist frequency is filtered out, not aliased", () => {
  assert.ok(rms(inChunks(tone(9_000, 500, 10_000, 24_000), 24_000, 16_000, 1_000)) < 300);
  assert.ok(rms(inChunks(tone(11_000, 500, 10_000, 48_000), 48_000, 16_000, 1_000)) < 300);
});

test("resampler - chunking does not change the output; equal rates pass through", () => {
  const input = tone(700, 300, 8_000, 24_000);
  assert.deepEqual(inChunks(input, 24_000, 16_000, 77), inChunks(input, 24_000, 16_000, input.length));
  assert.deepEqual(inChunks(input, 16_000, 24_000, 1), inChunks(input, 16_000, 24_000, 4_097));
  const same = new Resampler(16_000, 16_000);
  assert.equal(same.push(input), input);
  assert.equal(same.flush().length, 0);
  assert.throws(() => new Resampler(0, 16_000), RangeError);
  assert.throws(() => new Resampler(22_050.5, 16_000), RangeError);
});

test("resampler - PCM16 LE bytes to samples and back, odd offsets included", () => {
  const bytes = Buffer.from([0, 1, 2, 0x34, 0x12, 0xff, 0xff]).subarray(1);
  assert.deepEqual(Array.from(pcmSamples(bytes)), [0x0201, 0x1234, -1]);
  assert.deepEqual(pcmBytes(pcmSamples(bytes)), bytes.subarray(0, 6));
});
