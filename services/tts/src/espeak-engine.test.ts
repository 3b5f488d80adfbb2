import assert from "node:assert/strict";
import { once } from "node:events";
import { test } from "node:test";
import { EngineError, SynthesisCancelledError, UnknownVoiceError } from "./errors";
import { EspeakEngine } from "./espeak-engine";

const voice = { voice: "en-us", rateWpm: 175, pitch: 50 };
const engine = new EspeakEngine({ espeakBin: "espeak-ng", soxBin: "sox", timeoutMs: 10_000 });

test("espeak engine - speaks PCM at the rate asked, the same bytes each time", async () => {
  const job = { ...voice, text: "Testing one two three.", maxBytes: 1 << 20 };
  const a = await engine.synthesize({ ...job, sampleRateHz: 16_000 });
  const b = await engine.synthesize({ ...job, sampleRateHz: 16_000 });
  const c = await engine.synthesize({ ...job, sampleRateHz: 8_000 });
  assert.ok(!a.overflow && !b.overflow && !c.overflow);
  assert.ok(a.pcm.length > 16_000, `only ${a.pcm.length} bytes`);
  assert.equal(a.pcm.length % 2, 0);
  assert.deepEqual(a.pcm, b.pcm);
  // Half the rate, half the samples (within the resampler's rounding).
  assert.ok(Math.abs(c.pcm.length * 2 - a.pcm.length) <= 8, `${c.pcm.length} vs ${a.pcm.length}`);
});

test("espeak engine - streamed PCM comes in whole samples and equals the held PCM", async () => {
  const job = { ...voice, text: "One sentence, streamed as sox writes it.", sampleRateHz: 16_000, maxBytes: 1 << 20 };
  const held = await engine.synthesize(job);
  const pieces: Buffer[] = [];
  const streamed = await engine.synthesize({ ...job, onPcm: (pcm) => pieces.push(pcm) });
  assert.ok(!held.overflow && !streamed.overflow);
  assert.equal(streamed.pcm.length, 0);
  assert.ok(pieces.length > 1, `${pieces.length} piece(s)`);
  for (const p of pieces) assert.equal(p.length % 2, 0);
  assert.deepEqual(Buffer.concat(pieces), held.pcm);
});

test("espeak engine - warm pairs wait for text and give the same bytes; close ends them", async () => {
  const warm = new EspeakEngine({ espeakBin: "espeak-ng", soxBin: "sox", timeoutMs: 10_000, warmPairs: 1 });
  const job = { ...voice, text: "Warm and cold alike.", sampleRateHz: 16_000, maxBytes: 1 << 20 };
  const cold = await engine.synthesize(job);
  const first = await warm.synthesize(job); // starts its pair and a spare
  const second = await warm.synthesize(job); // takes the spare
  assert.deepEqual(first, cold);
  assert.deepEqual(second, cold);
  assert.equal(warm.running, 0);
  await warm.close();
  await assert.rejects(warm.synthesize({ ...job, voice: "xx-nosuchvoice" }), UnknownVoiceError);
});

test("espeak engine - stops at the byte budget and says so", async () => {
  const r = await engine.synthesize({
    ...voice,
    text: "A sentence longer than the budget.",
    sampleRateHz: 16_000,
    maxBytes: 1000,
  });
  assert.equal(r.overflow, true);
});

test("espeak engine - text starting with a dash is spoken, not parsed as an option", async () => {
  const r = await engine.synthesize({ ...voice, text: "-w /tmp/x --help", sampleRateHz: 16_000, maxBytes: 1 << 20 });
  assert.ok(!r.overflow && r.pcm.length > 3200);
});

test("espeak engine - cancel kills both processes at once", async () => {
  const abort = new AbortController();
  const exited = once(engine, "exit");
  const work = engine.synthesize({
    ...voice,
    text: "This is a long text. ".repeat(60),
    sampleRateHz: 16_000,
    maxBytes: 1 << 26,
    signal: abort.signal,
  });
  setImmediate(() => abort.abort());
  await assert.rejects(work, SynthesisCancelledError);
  const [info] = await exited;
  assert.deepEqual(info, { killed: true });
  assert.equal(engine.running, 0);
});

test("espeak engine - unknown voice and missing binaries are clear errors", async () => {
  const job = { ...voice, text: "hi", sampleRateHz: 16_000, maxBytes: 1 << 20 };
  await assert.rejects(engine.synthesize({ ...job, voice: "xx-nosuchvoice" }), UnknownVoiceError);
  const missing = new EspeakEngine({ espeakBin: "/nonexistent/espeak-ng", soxBin: "sox", timeoutMs: 5_000 });
  await assert.rejects(
    missing.synthesize(job),
    (err: Error) => err instanceof EngineError && /cannot run/.test(err.message),
  );
  assert.match(String(await missing.check(voice)), /cannot run \/nonexistent\/espeak-ng/);
  assert.equal(await engine.check(voice), true);
});

test("espeak engine - a sentence over its time limit is killed", async () => {
  const slow = new EspeakEngine({ espeakBin: "espeak-ng", soxBin: "sox", timeoutMs: 1 });
  await assert.rejects(
    slow.synthesize({ ...voice, text: "Long text. ".repeat(100), sampleRateHz: 16_000, maxBytes: 1 << 26 }),
    (err: Error) => err instanceof EngineError && err.retryable,
  );
});
