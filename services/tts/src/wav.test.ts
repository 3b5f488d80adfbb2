import assert from "node:assert/strict";
import { test } from "node:test";
import { DEVICE_FORMAT, parseWav, pcmDurationMs, toWav, WAV_HEADER_BYTES, WavFormatError, wavHeader } from "./wav";

test("wav - writes a canonical 44-byte header with real sizes", () => {
  const pcm = Buffer.alloc(32_000, 1);
  const wav = toWav(pcm);
  assert.equal(wav.length, WAV_HEADER_BYTES + pcm.length);
  assert.equal(wav.toString("ascii", 0, 4), "RIFF");
  assert.equal(wav.readUInt32LE(4), 36 + pcm.length);
  assert.equal(wav.toString("ascii", 8, 16), "WAVEfmt ");
  assert.equal(wav.readUInt32LE(16), 16);
  assert.equal(wav.readUInt16LE(20), 1); // PCM
  assert.equal(wav.readUInt16LE(22), 1); // mono
  assert.equal(wav.readUInt32LE(24), 16_000);
  assert.equal(wav.readUInt32LE(28), 32_000); // byte rate
  assert.equal(wav.readUInt16LE(32), 2); // block align
  assert.equal(wav.readUInt16LE(34), 16);
  assert.equal(wav.toString("ascii", 36, 40), "data");
  assert.equal(wav.readUInt32LE(40), pcm.length);
  assert.deepEqual(wav.subarray(44), pcm);
});

test("wav - parses what it writes, for other formats too", () => {
  const f = { sampleRateHz: 22_050, channels: 2, bitsPerSample: 16 };
  const info = parseWav(toWav(Buffer.alloc(400), f));
  assert.deepEqual(info, { ...f, dataOffset: 44, dataBytes: 400, declaredDataBytes: 400 });
});

test("wav - clamps the bogus size a pipe writes to the bytes present", () => {
  const wav = toWav(Buffer.alloc(1000));
  wav.writeUInt32LE(0x7ffff000, 40);
  wav.writeUInt32LE(0x7ffff024, 4);
  const info = parseWav(wav);
  assert.equal(info.dataBytes, 1000);
  assert.equal(info.declaredDataBytes, 0x7ffff000);
});

test("wav - skips chunks before data", () => {
  const wav = toWav(Buffer.alloc(10));
  const list = Buffer.concat([Buffer.from("LIST"), Buffer.from([3, 0, 0, 0]), Buffer.from("abc\0")]);
  const withList = Buffer.concat([wav.subarray(0, 36), list, wav.subarray(36)]);
  assert.equal(parseWav(withList).dataOffset, 44 + list.length);
});

test("wav - refuses what is not PCM WAV, without throwing anything else", () => {
  for (const bad of [
    Buffer.alloc(0),
    Buffer.from("RIFF\0\0\0\0WAVX"),
    Buffer.from("RIFF\0\0\0\0WAVEdata\0\0\0\0"),
    Buffer.from("RIFF\0\0\0\0WAVEfmt \x10\0\0\0\x03\0\x01\0\x80\x3e\0\0\0\x7d\0\0\x04\0\x20\0"),
    Buffer.from("RIFF\0\0\0\0WAVEfmt \xff\xff\xff\xff"),
  ]) {
    assert.throws(() => parseWav(bad), WavFormatError);
  }
});

test("wav - rejects sizes that are not whole frames or do not fit 32 bits", () => {
  assert.throws(() => wavHeader(3), RangeError);
  assert.throws(() => wavHeader(-2), RangeError);
  assert.throws(() => wavHeader(2 ** 32), RangeError);
  assert.throws(() => wavHeader(2, { ...DEVICE_FORMAT, bitsPerSample: 12 }), RangeError);
});

test("wav - duration follows the byte count", () => {
  assert.equal(pcmDurationMs(32_000), 1000);
  assert.equal(pcmDurationMs(44_100 * 2 * 2, { sampleRateHz: 44_100, channels: 2, bitsPerSample: 16 }), 1000);
});
