import assert from "node:assert/strict";
import { test } from "node:test";
import { toWav } from "@hotpin/audio";
import { ProtocolError } from "./errors";
import { checkReplyWav, FirmwareWavReceiver } from "./reply-wav";
import { tonePcm } from "./testing/tone";

const wav = toWav(tonePcm(300));

function receive(frames: Buffer[]): Buffer {
  const r = new FirmwareWavReceiver();
  for (const f of frames) r.push(f);
  return r.finish();
}

function split(b: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let off = 0; off < b.length; off += size) out.push(b.subarray(off, off + size));
  return out;
}

test("reply wav - accepts a canonical WAV in frames of any size", () => {
  assert.deepEqual(receive(split(wav, 4096)), wav);
  assert.deepEqual(receive(split(wav, 7)), wav);
  assert.equal(checkReplyWav(wav), wav.length - 44);
});

test("reply wav - skips bytes before RIFF within the first 8 KB, as the decoder does", () => {
  const r = new FirmwareWavReceiver();
  r.push(Buffer.alloc(100));
  r.push(wav);
  assert.deepEqual(r.finish(), wav);
  assert.equal(r.skippedBytes, 100);
});

test("reply wav - no RIFF in the first 8 KB is an error", () => {
  const r = new FirmwareWavReceiver();
  assert.throws(() => r.push(Buffer.alloc(8192)), /no RIFF header in the first 8 KB/);
});

test("reply wav - a stream that ends short of data_size+44 is an error", () => {
  assert.throws(() => receive([wav.subarray(0, wav.length - 2)]), /ended after/);
  assert.throws(() => receive([wav.subarray(0, 20)]), ProtocolError);
});

test("reply wav - wrong format or a RIFF size that lies are errors", () => {
  const stereo = Buffer.from(wav);
  stereo.writeUInt16LE(2, 22);
  assert.throws(() => checkReplyWav(stereo), /2 ch/);
  const riff = Buffer.from(wav);
  riff.writeUInt32LE(0xffffffff, 4);
  assert.throws(() => checkReplyWav(riff), /canonical 44-byte header/);
  assert.throws(() => checkReplyWav(Buffer.from("not a wav at all, really not a wav at all!!!")), /not a valid WAV/);
});
