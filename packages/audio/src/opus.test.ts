import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { OpusDecoder, OpusEncoder, OpusError } from "./opus";
import { pcmBytes, pcmSamples, Resampler } from "./resampler";
import { parseWav } from "./wav";

const SPEECH = pcmSamples(
  parseWav(readFileSync("/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0880.wav"))
    .data,
);

function frames(pcm: Int16Array, size: number): Int16Array[] {
  const out: Int16Array[] = [];
  for (let at = 0; at + size <= pcm.length; at += size) out.push(pcm.slice(at, at + size));
  return out;
}

function rms(pcm: Int16Array): number {
  let sum = 0;
  for (const s of pcm) sum += s * s;
  return Math.sqrt(sum / pcm.length);
}

function upTo24k(pcm: Int16Array): Int16Array {
  const r = new Resampler(16_000, 24_000);
  const a = r.push(pcm);
  const b = r.flush();
  const out = new Int16Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

test("opus - a reply at 24 kHz in 60 ms packets decodes back to speech of the same length and level", () => {
  const speech24 = upTo24k(SPEECH);
  const encoder = new OpusEncoder({
    sampleRate: 24_000,
    frameMs: 60,
    application: "audio",
    bitrate: 24_000,
    complexity: 5,
  });
  const decoder = new OpusDecoder(24_000);
  try {
    assert.equal(encoder.frameSamples, 1440);
    const input = frames(speech24, 1440);
    const packets = input.map((f) => encoder.encode(f));
    // 24 kbit/s for 60 ms is 180 bytes on average.
    const mean = packets.reduce((n, p) => n + p.length, 0) / packets.length;
    assert.ok(mean > 100 && mean < 260, `mean packet ${mean} B`);
    const decoded = Buffer.concat(packets.map((p) => decoder.decode(p)));
    assert.equal(decoded.length, input.length * 1440 * 2);
    const level = rms(pcmSamples(decoded)) / rms(Int16Array.from(input.flatMap((f) => Array.from(f))));
    assert.ok(level > 0.8 && level < 1.2, `level ratio ${level}`);
  } finally {
    encoder.free();
    decoder.free();
  }
});

test("opus - the device's upstream: 16 kHz 60 ms with DTX, silence as 1-3 byte packets that decode", () => {
  const encoder = new OpusEncoder({ sampleRate: 16_000, frameMs: 60, application: "audio", complexity: 0, dtx: true });
  const decoder = new OpusDecoder(16_000);
  try {
    const silence = new Int16Array(16_000 * 3);
    const input = [...frames(SPEECH, 960), ...frames(silence, 960)];
    const packets = input.map((f) => encoder.encode(f));
    const tiny = packets.filter((p) => p.length <= 3);
    assert.ok(tiny.length >= 20, `${tiny.length} DTX packets`);
    for (const p of packets) assert.equal(decoder.decode(p).length, 960 * 2);
    for (const size of [1, 2, 3])
      assert.equal(decoder.decode(tiny.find((p) => p.length === size) ?? tiny[0]!).length, 1920);
  } finally {
    encoder.free();
    decoder.free();
  }
});

test("opus - a 24 kHz stream decodes at 16 kHz too (what the firmware does for a 16 kHz board)", () => {
  const encoder = new OpusEncoder({
    sampleRate: 24_000,
    frameMs: 60,
    application: "audio",
    bitrate: 24_000,
    complexity: 5,
  });
  const decoder = new OpusDecoder(16_000);
  try {
    const packet = encoder.encode(frames(upTo24k(SPEECH), 1440)[10]!);
    assert.equal(decoder.decode(packet).length, 960 * 2);
  } finally {
    encoder.free();
    decoder.free();
  }
});

test("opus - encodeAsync runs off the event loop and gives the same packets as encode", async () => {
  const options = { sampleRate: 24_000, frameMs: 60, application: "audio", bitrate: 24_000, complexity: 5 } as const;
  const sync = new OpusEncoder(options);
  const offLoop = new OpusEncoder(options);
  try {
    for (const f of frames(upTo24k(SPEECH), 1440).slice(0, 20))
      assert.deepEqual(await offLoop.encodeAsync(f), sync.encode(f));
  } finally {
    sync.free();
    offLoop.free();
  }
});

test("opus - async encodes queued on one encoder run in order, and free waits for them", async () => {
  const options = { sampleRate: 24_000, frameMs: 60, application: "audio", bitrate: 24_000, complexity: 5 } as const;
  const reference = new OpusEncoder(options);
  const queued = new OpusEncoder(options);
  try {
    const input = frames(upTo24k(SPEECH), 1440).slice(0, 10);
    const expected = input.map((f) => reference.encode(f));
    const all = Promise.all(input.map((f) => queued.encodeAsync(f)));
    assert.throws(() => queued.encode(input[0]!), /busy/);
    queued.free();
    await assert.rejects(queued.encodeAsync(input[0]!), /freed/);
    assert.deepEqual(await all, expected);
  } finally {
    reference.free();
    queued.free();
  }
});

test("opus - wrong rates, frames, complexity, freed codecs and corrupt packets are clear errors", async () => {
  assert.throws(
    () => new OpusEncoder({ sampleRate: 22_050 as 24_000, frameMs: 60, application: "audio", complexity: 5 }),
    /not 22050/,
  );
  assert.throws(
    () => new OpusEncoder({ sampleRate: 24_000, frameMs: 30 as 60, application: "audio", complexity: 5 }),
    /30 ms/,
  );
  assert.throws(
    () => new OpusEncoder({ sampleRate: 24_000, frameMs: 60, application: "audio", complexity: 11 }),
    /complexity/,
  );
  assert.throws(() => new OpusDecoder(44_100 as 48_000), OpusError);
  const encoder = new OpusEncoder({ sampleRate: 16_000, frameMs: 20, application: "voip", complexity: 0 });
  assert.throws(() => encoder.encode(new Int16Array(100)), /320 samples, not 100/);
  encoder.free();
  encoder.free();
  assert.throws(() => encoder.encode(new Int16Array(320)), /freed/);
  await assert.rejects(encoder.encodeAsync(new Int16Array(320)), /freed/);
  const decoder = new OpusDecoder(16_000);
  // Code 3 (a count of frames follows) with no count byte: not a valid packet.
  assert.throws(() => decoder.decode(Buffer.from([0x03])), /opus_decode/);
  assert.throws(() => decoder.decode(Buffer.alloc(0)), /0 bytes/);
  // A bad packet does not break the decoder for the next good one.
  const good = new OpusEncoder({ sampleRate: 16_000, frameMs: 60, application: "audio", complexity: 0 });
  assert.equal(decoder.decode(good.encode(frames(SPEECH, 960)[5]!)).length, 1920);
  good.free();
  decoder.free();
  assert.throws(() => decoder.decode(Buffer.from([0xf8])), /freed/);
  assert.deepEqual(pcmBytes(new Int16Array([1])), Buffer.from([1, 0]));
});
