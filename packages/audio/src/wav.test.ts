import assert from "node:assert/strict";
import { test } from "node:test";
import { parseWav, pcmDurationMs, toWav, WAV_HEADER_BYTES, WavError, wavHeader } from "./wav";

test("audio - wav header carries the real sizes at the fixed offsets", () => {
  const pcm = Buffer.alloc(32_000, 1);
  const wav = toWav(pcm);
  assert.equal(wav.length, WAV_HEADER_BYTES + pcm.length);
  assert.equal(wav.readUInt32LE(4), 36 + pcm.length);
  assert.equal(wav.readUInt32LE(40), pcm.length);
  assert.equal(wav.readUInt32LE(24), 16_000);
  assert.equal(wav.readUInt16LE(34), 16);
  assert.equal(pcmDurationMs(pcm.length), 1000);
});

test("audio - parseWav reads back what toWav wrote and skips extra chunks", () => {
  const pcm = Buffer.from([1, 0, 2, 0, 3, 0]);
  const header = wavHeader(pcm.length);
  const list = Buffer.concat([Buffer.from("LIST"), Buffer.from([4, 0, 0, 0]), Buffer.from("INFO")]);
  const withList = Buffer.concat([header.subarray(0, 36), list, header.subarray(36), pcm]);
  for (const file of [toWav(pcm), withList]) {
    const parsed = parseWav(file);
    assert.deepEqual(parsed.format, { sampleRate: 16_000, channels: 1, bitsPerSample: 16 });
    assert.deepEqual(parsed.data, pcm);
  }
});

test("audio - a header claiming more than the file holds yields the whole frames present", () => {
  const wav = toWav(Buffer.alloc(100));
  wav.writeUInt32LE(0x7ffff000, 40); // what espeak-ng writes to a pipe
  const parsed = parseWav(wav.subarray(0, wav.length - 1));
  assert.equal(parsed.data.length, 98);
  assert.equal(parsed.declaredBytes, 0x7ffff000);
});

test("audio - wavHeader refuses sizes that are not whole frames and nonsense formats", () => {
  assert.throws(() => wavHeader(3), WavError);
  assert.throws(() => wavHeader(-2), WavError);
  assert.throws(() => wavHeader(4, { sampleRate: 16_000, channels: 0, bitsPerSample: 16 }), WavError);
  const zeroChannels = toWav(Buffer.alloc(4));
  zeroChannels.writeUInt16LE(0, 22);
  assert.throws(() => parseWav(zeroChannels), /unsupported PCM layout/);
});

test("audio - parseWav refuses what is not PCM WAV", () => {
  assert.throws(() => parseWav(Buffer.from("hello world, not a wav")), WavError);
  const float = toWav(Buffer.alloc(4));
  float.writeUInt16LE(3, 20);
  assert.throws(() => parseWav(float), /only PCM/);
});
