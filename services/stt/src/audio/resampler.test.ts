import assert from "node:assert/strict";
import { test } from "node:test";
import { tone } from "../testing/harness";
import { StreamingResampler } from "./resampler";

function rms(pcm: Int16Array, skip = 200): number {
  let sum = 0;
  const body = pcm.subarray(skip, pcm.length - skip);
  for (const s of body) sum += s * s;
  return Math.sqrt(sum / body.length);
}

function zeroCrossings(pcm: Int16Array): number {
  let n = 0;
  for (let i = 1; i < pcm.length; i++) if ((pcm[i - 1] as number) < 0 !== (pcm[i] as number) < 0) n++;
  return n;
}

function resampleInChunks(input: Int16Array, from: number, to: number, chunk: number): Int16Array {
  const r = new StreamingResampler(from, to);
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

test("stt resampler - 48 kHz to 16 kHz keeps a 1 kHz tone's pitch, level and length", () => {
  const out = resampleInChunks(tone(1_000, 1_000, 10_000, 48_000), 48_000, 16_000, 4_801);
  assert.ok(Math.abs(out.length - 16_000) <= 1, `length ${out.length}`);
  assert.ok(Math.abs(zeroCrossings(out) - 2_000) <= 2, `crossings ${zeroCrossings(out)}`);
  assert.ok(Math.abs(rms(out) - 10_000 / Math.SQRT2) < 150, `rms ${rms(out)}`);
});

test("stt resampler - a tone above the new Nyquist frequency is filtered out, not aliased", () => {
  const out = resampleInChunks(tone(11_000, 500, 10_000, 48_000), 48_000, 16_000, 1_000);
  assert.ok(rms(out) < 300, `aliased energy rms ${rms(out)}`);
});

test("stt resampler - chunking does not change the output, and 8 kHz goes up cleanly", () => {
  const input = tone(700, 300, 8_000, 8_000);
  const whole = resampleInChunks(input, 8_000, 16_000, input.length);
  const pieces = resampleInChunks(input, 8_000, 16_000, 77);
  assert.deepEqual(pieces, whole);
  assert.ok(Math.abs(whole.length - 4_800) <= 1);
  assert.ok(Math.abs(zeroCrossings(whole) - 420) <= 2);
});

test("stt resampler - 16 kHz passes through untouched", () => {
  const input = tone(300, 100, 5_000);
  const r = new StreamingResampler(16_000);
  assert.equal(r.push(input), input);
  assert.equal(r.flush().length, 0);
});
