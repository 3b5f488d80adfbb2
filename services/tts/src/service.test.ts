import assert from "node:assert/strict";
import { test } from "node:test";
import { parseWav, pcmDurationMs, toWav } from "@hotpin/audio";
import { tts } from "@hotpin/contracts";
import { grpc } from "@hotpin/runtime";
import { collect, rms, startTts } from "./harness";

const request = (over: Partial<tts.SynthesizeRequest>) => tts.SynthesizeRequest.fromPartial(over);
const noCache = { HOTPIN_TTS_CACHE_BYTES: "0" };
const manySentences = (n: number) =>
  Array.from({ length: n }, (_, i) => `This is sentence number ${i + 1}, spoken to keep the engine busy for a while.`);

function grpcCode(err: unknown): number | undefined {
  return (err as grpc.ServiceError).code;
}

test("tts service - speaks valid 16 kHz mono PCM16 whose WAV has correct sizes and duration", async () => {
  await using tts = await startTts();
  const r = await collect(tts.client.synthesize(request({ text: "Hello from HotPin. The weather is fine today." })));
  assert.equal(r.done.sampleRateHz, 16_000);
  assert.equal(r.done.sentencesSpoken, 2);
  assert.equal(r.done.truncated, false);
  assert.equal(r.done.totalBytes, r.pcm.length);
  assert.equal(r.pcm.length % 2, 0);
  assert.equal(r.done.durationMs, Math.round(r.pcm.length / 2 / 16));
  const wav = toWav(r.pcm);
  assert.equal(wav.length, 44 + r.pcm.length);
  assert.equal(wav.readUInt32LE(4), wav.length - 8); // RIFF size
  assert.equal(wav.readUInt32LE(40), r.pcm.length); // data size where the firmware reads it
  const parsed = parseWav(wav);
  assert.deepEqual(parsed.format, { sampleRate: 16_000, channels: 1, bitsPerSample: 16 });
  assert.deepEqual(parsed.data, r.pcm);
  assert.equal(pcmDurationMs(parsed.data.length), r.done.durationMs);
  // Chunks are whole samples, in sentence order, and no larger than configured.
  assert.deepEqual([...new Set(r.chunks.map((c) => c.sentenceIndex))], [0, 1]);
  for (const c of r.chunks) assert.ok(c.pcm.length % 2 === 0 && c.pcm.length <= tts.cfg.chunkBytes);
});

test("tts service - audio is not silence and grows with the text", async () => {
  await using tts = await startTts(noCache);
  const short = await collect(tts.client.synthesize(request({ text: "Hello." })));
  const long = await collect(
    tts.client.synthesize(
      request({ text: "Hello. This is a much longer answer with many more words to speak aloud." }),
    ),
  );
  assert.ok(rms(short.pcm) > 500, `short rms ${rms(short.pcm)}`);
  assert.ok(rms(long.pcm) > 500, `long rms ${rms(long.pcm)}`);
  assert.ok(long.done.durationMs > 3 * short.done.durationMs, `${long.done.durationMs} vs ${short.done.durationMs}`);
});

test("tts service - the first chunk arrives before the last sentence is synthesised", async () => {
  await using tts = await startTts(noCache);
  const n = 12;
  let enginedAtFirstChunk: Promise<number> | undefined;
  const r = await collect(tts.client.synthesize(request({ sentences: manySentences(n), maxBytes: 9e6 })), (_c, i) => {
    if (i === 0) enginedAtFirstChunk = tts.metric("hotpin_tts_sentences_total", { source: "engine" });
  });
  assert.equal(r.done.sentencesSpoken, n);
  assert.equal(r.chunks[0]?.sentenceIndex, 0);
  const atFirst = await enginedAtFirstChunk;
  assert.ok(atFirst !== undefined && atFirst < n, `${atFirst} of ${n} sentences were done at the first chunk`);
  assert.equal(await tts.metric("hotpin_tts_first_chunk_seconds"), 1);
});

test("tts service - truncates at a sentence boundary within the byte cap and says so", async () => {
  await using tts = await startTts(noCache);
  const sentences = ["First sentence here.", "Then a second one.", "And a third that will not fit."];
  const sizes: number[] = [];
  for (const s of sentences) sizes.push((await collect(tts.client.synthesize(request({ text: s })))).done.totalBytes);
  const [a = 0, b = 0, c = 0] = sizes;
  const cap = a + b + Math.floor(c / 2);
  const r = await collect(tts.client.synthesize(request({ sentences, maxBytes: cap })));
  assert.equal(r.done.truncated, true);
  assert.equal(r.done.sentencesSpoken, 2);
  assert.equal(r.done.totalBytes, a + b);
  assert.equal(r.pcm.length, a + b);
  assert.deepEqual([...new Set(r.chunks.map((x) => x.sentenceIndex))], [0, 1]);
  assert.equal(await tts.metric("hotpin_tts_requests_total", { outcome: "truncated" }), 1);
  // An exact fit is not truncated.
  const exact = await collect(tts.client.synthesize(request({ sentences, maxBytes: a + b + c })));
  assert.equal(exact.done.truncated, false);
  assert.equal(exact.done.totalBytes, a + b + c);
});

test("tts service - a sentence streamed far from the cap is the same audio as one held near it", async () => {
  await using tts = await startTts(noCache);
  const text = "Streaming this sentence gives the very same samples as holding it back.";
  const far = await collect(tts.client.synthesize(request({ text, maxBytes: 9e6 })));
  // A cap of exactly its size is below the length estimate, so this one is held until complete.
  const near = await collect(tts.client.synthesize(request({ text, maxBytes: far.done.totalBytes })));
  assert.equal(near.done.truncated, false);
  assert.deepEqual(near.pcm, far.pcm);
  for (const c of far.chunks) assert.ok(c.pcm.length % 2 === 0 && c.pcm.length <= tts.cfg.chunkBytes);
  assert.equal(await tts.metric("hotpin_tts_streamed_overflows_total"), 0);
});

test("tts service - espeak-ng phoneme input [[...]] in text is spoken as text", async () => {
  await using tts = await startTts(noCache);
  const plain = await collect(tts.client.synthesize(request({ text: "Say hello now." })));
  // Unescaped, espeak-ng reads [[h@l'oU]] as the phonemes of "hello": the same bytes as above.
  const smuggled = await collect(tts.client.synthesize(request({ text: "Say [[h@l'oU]] now." })));
  const listed = await collect(tts.client.synthesize(request({ sentences: ["Say [[h@l'oU]] now."] })));
  assert.notDeepEqual(smuggled.pcm, plain.pcm);
  assert.deepEqual(listed.pcm, smuggled.pcm);
});

test("tts service - cancelling midway stops the work", async () => {
  await using tts = await startTts(noCache);
  const n = 40;
  const call = tts.client.synthesize(request({ sentences: manySentences(n), maxBytes: 9e6 }));
  const ended = new Promise<unknown>((resolve) => {
    call.on("error", resolve);
    call.on("data", () => call.cancel());
  });
  assert.equal(grpcCode(await ended), grpc.status.CANCELLED);
  await tts.app.slots.idle();
  await tts.app.engine.idle();
  // Work stops: the request's slot is free, no engine process survives, most sentences never ran.
  assert.equal(tts.app.engine.running, 0);
  assert.equal(await tts.metric("hotpin_tts_requests_total", { outcome: "cancelled" }), 1);
  assert.equal(await tts.metric("hotpin_tts_active_requests"), 0);
  const engined = await tts.metric("hotpin_tts_sentences_total", { source: "engine" });
  assert.ok(engined < n / 2, `${engined} sentences synthesised after cancel`);
});

test("tts service - a full pool answers RESOURCE_EXHAUSTED at once, cached phrases still play", async () => {
  await using tts = await startTts({ HOTPIN_TTS_MAX_CONCURRENT: "1" });
  const prompt = "Sorry, please record again.";
  const warm = await collect(tts.client.synthesize(request({ text: prompt })));

  const busy = tts.client.synthesize(request({ sentences: manySentences(30), maxBytes: 9e6 }));
  busy.on("error", () => {});
  await new Promise((resolve) => busy.once("data", resolve));
  const refused = await collect(tts.client.synthesize(request({ text: "Something new to say." }))).then(
    () => assert.fail("a second synthesis ran beyond capacity"),
    (err: unknown) => err,
  );
  assert.equal(grpcCode(refused), grpc.status.RESOURCE_EXHAUSTED);
  assert.equal(tts.app.slots.active, 1, "the busy request was still running when the refusal came");
  assert.equal(await tts.metric("hotpin_tts_requests_total", { outcome: "refused" }), 1);

  const cached = await collect(tts.client.synthesize(request({ text: prompt })));
  assert.deepEqual(cached.pcm, warm.pcm);
  busy.cancel();
});

test("tts service - the phrase cache hits for a repeated phrase in the same voice and format", async () => {
  await using tts = await startTts();
  const prompt = "Please record again.";
  const a = await collect(tts.client.synthesize(request({ text: prompt })));
  assert.equal(await tts.metric("hotpin_tts_cache_hits_total"), 0);
  const b = await collect(tts.client.synthesize(request({ text: prompt })));
  assert.equal(await tts.metric("hotpin_tts_cache_hits_total"), 1);
  assert.deepEqual(b.pcm, a.pcm);
  assert.equal(await tts.metric("hotpin_tts_sentences_total", { source: "engine" }), 1);
  assert.equal(await tts.metric("hotpin_tts_sentences_total", { source: "cache" }), 1);
  assert.ok((await tts.metric("hotpin_tts_cache_bytes")) >= a.pcm.length);
  // Another format is another entry.
  const narrow = await collect(tts.client.synthesize(request({ text: prompt, sampleRateHz: 8_000 })));
  assert.equal(narrow.done.sampleRateHz, 8_000);
  assert.equal(await tts.metric("hotpin_tts_cache_hits_total"), 1);
});

test("tts service - bad requests are refused with INVALID_ARGUMENT and the process keeps serving", async () => {
  await using tts = await startTts({ HOTPIN_TTS_MAX_TEXT_CHARS: "1000" });
  const bad = [
    request({}),
    request({ text: "x".repeat(1001) }),
    request({ text: "hi", voice: { name: "zz-no-such-voice", rateWpm: 0, pitch: 0 } }),
    request({ text: "hi", voice: { name: "", rateWpm: 5000, pitch: 0 } }),
    request({ text: "hi", sampleRateHz: 1 }),
  ];
  for (const r of bad) {
    const err = await collect(tts.client.synthesize(r)).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.equal(grpcCode(err), grpc.status.INVALID_ARGUMENT, JSON.stringify(r.voice));
  }
  // Undecodable bytes and a max_bytes beyond 2^53 fail that call only.
  for (const raw of [Buffer.from([0xff, 0xff, 0xff]), Buffer.from("0a026869287fffffffffffffffff7f", "hex")]) {
    const call = tts.client.makeServerStreamRequest(
      "/hotpin.tts.v1.TextToSpeech/Synthesize",
      (x: Buffer) => x,
      (x: Buffer) => x,
      raw,
    );
    call.on("data", () => {});
    const err = await new Promise((resolve) => call.on("error", resolve));
    assert.ok(grpcCode(err) !== grpc.status.OK);
  }
  const empty = await collect(tts.client.synthesize(request({ text: "... !" })));
  assert.deepEqual(
    { ...empty.done },
    { durationMs: 0, totalBytes: 0, sampleRateHz: 16_000, sentencesSpoken: 0, truncated: false },
  );
});

test("tts service - a missing engine is a clear error and an unhealthy check", async () => {
  await using tts = await startTts({ HOTPIN_TTS_ESPEAK_BIN: "/nonexistent/espeak-ng" });
  assert.match(String(await tts.app.engineCheck()), /cannot run/);
  const err = await collect(tts.client.synthesize(request({ text: "Hello." }))).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.equal(grpcCode(err), grpc.status.INTERNAL);
  assert.match((err as Error).message, /cannot run/);
});
