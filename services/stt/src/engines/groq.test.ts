import assert from "node:assert/strict";
import { test } from "node:test";
import { grpc } from "@hotpin/runtime";
import { startFakeGroq } from "@hotpin/test-support";
import { goforward, recognize, startTestStt } from "../testing/harness";

test("stt groq - a stream is sent to Groq Whisper as one WAV and the final carries its text", async () => {
  await using groq = await startFakeGroq({ apiKey: "test-key", transcription: "Turn left at the door." });
  await using stt = await startTestStt({
    HOTPIN_STT_ENGINE: "groq",
    GROQ_API_KEY: "test-key",
    GROQ_BASE_URL: groq.url,
    HOTPIN_STT_WORKERS: "1",
  });
  const out = await recognize(stt.client, goforward(), { language: "en-IN" });
  assert.equal(out.error, undefined);
  assert.equal(out.partials.length, 0, "whisper gives no partials");
  const final = out.final;
  assert.equal(final?.engine, "groq");
  assert.equal(final?.text, "Turn left at the door.");
  assert.equal(final?.words.length, 5);
  // The fake's segment has avg_logprob -0.2.
  assert.ok(Math.abs((final?.confidence ?? 0) - Math.exp(-0.2)) < 1e-6);
  assert.equal(final?.quality?.durationMs, 2786);

  const sent = groq.requests.find((r) => r.route === "transcription");
  assert.equal(sent?.body.model, "whisper-large-v3-turbo");
  assert.equal(sent?.body.language, "en");
  assert.equal(sent?.body.response_format, "verbose_json");
  const wav = sent?.body.file.bytes as Buffer;
  assert.equal(wav.toString("ascii", 0, 4), "RIFF");
  assert.equal(wav.readUInt32LE(24), 16_000);
  assert.equal(wav.length, 44 + goforward().length);
});

test("stt groq - Groq failures become statuses the caller can act on", async () => {
  await using groq = await startFakeGroq({ apiKey: "test-key" });
  await using stt = await startTestStt({
    HOTPIN_STT_ENGINE: "groq",
    GROQ_API_KEY: "test-key",
    GROQ_BASE_URL: groq.url,
    HOTPIN_STT_WORKERS: "1",
  });
  const audio = goforward().subarray(0, 16_000);
  groq.failNext({ kind: "rate-limit" }, { kind: "server-error", status: 503 });
  assert.equal((await recognize(stt.client, audio)).error?.code, grpc.status.RESOURCE_EXHAUSTED);
  assert.equal((await recognize(stt.client, audio)).error?.code, grpc.status.UNAVAILABLE);
  assert.equal((await recognize(stt.client, audio)).final?.text, "hello world");
});

test("stt groq - a wrong key is refused as FAILED_PRECONDITION, never logged", async () => {
  await using groq = await startFakeGroq({ apiKey: "right-key" });
  await using stt = await startTestStt({
    HOTPIN_STT_ENGINE: "groq",
    GROQ_API_KEY: "wrong-key",
    GROQ_BASE_URL: groq.url,
    HOTPIN_STT_WORKERS: "1",
  });
  const out = await recognize(stt.client, goforward().subarray(0, 16_000));
  assert.equal(out.error?.code, grpc.status.FAILED_PRECONDITION);
  assert.doesNotMatch(out.error?.details ?? "", /wrong-key/);
});
