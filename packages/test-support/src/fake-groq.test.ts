import assert from "node:assert/strict";
import { test } from "node:test";
import Groq, { toFile } from "groq-sdk";
import { startFakeGroq } from "./fake-groq";

const client = (url: string) => new Groq({ apiKey: "test-key", baseURL: url, maxRetries: 0 });

test("fake groq - answers a multimodal chat as JSON and records the image part", async () => {
  await using fake = await startFakeGroq();
  fake.script("Scripted answer.");
  const res = await client(fake.url).chat.completions.create({
    model: "meta-llama/llama-4-scout-17b-16e-instruct",
    messages: [
      {
        role: "user",
        content: [
          { type: "text", text: "What is this?" },
          { type: "image_url", image_url: { url: "data:image/jpeg;base64,/9j/AA==" } },
        ],
      },
    ],
  });
  assert.equal(res.choices[0]?.message.content, "Scripted answer.");
  assert.ok((res.usage?.completion_tokens ?? 0) > 0);
  const [req] = fake.chatRequests();
  assert.equal(req?.path, "/openai/v1/chat/completions");
  assert.equal(req?.headers.authorization, "Bearer test-key");
  assert.equal(req?.body.messages[0].content[1].image_url.url, "data:image/jpeg;base64,/9j/AA==");
});

test("fake groq - streams a scripted answer token by token with usage at the end", async () => {
  await using fake = await startFakeGroq({ defaultAnswer: "One two three. Four five." });
  const stream = await client(fake.url).chat.completions.create({
    model: "m",
    stream: true,
    messages: [{ role: "user", content: "count" }],
  });
  const parts: string[] = [];
  let usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number } | undefined;
  for await (const chunk of stream) {
    const text = chunk.choices[0]?.delta.content;
    if (text) parts.push(text);
    if (chunk.x_groq?.usage) usage = chunk.x_groq.usage;
  }
  assert.deepEqual(parts, ["One", " two", " three.", " Four", " five."]);
  assert.equal(usage?.completion_tokens, 5);
  assert.ok((usage?.prompt_tokens ?? 0) > 0);
  assert.equal(usage?.total_tokens, (usage?.prompt_tokens ?? 0) + 5);
});

test("fake groq - serves scripted failures in order: 429 with Retry-After, 500, decommissioned", async () => {
  await using fake = await startFakeGroq();
  fake.failNext(
    { kind: "rate-limit", retryAfterSeconds: 0.25 },
    { kind: "server-error", status: 503 },
    { kind: "decommissioned" },
  );
  const groq = client(fake.url);
  const ask = () => groq.chat.completions.create({ model: "old", messages: [{ role: "user", content: "hi" }] });
  const first = await ask().catch((e: unknown) => e);
  assert.ok(first instanceof Groq.RateLimitError);
  assert.equal(first.headers.get("retry-after"), "0.25");
  const second = await ask().catch((e: unknown) => e);
  assert.ok(second instanceof Groq.InternalServerError);
  assert.equal(second.status, 503);
  const third = await ask().catch((e: unknown) => e);
  assert.ok(third instanceof Groq.BadRequestError);
  assert.equal((third.error as { error: { code: string } }).error.code, "model_decommissioned");
  const fourth = await ask();
  assert.ok(fourth.choices[0]?.message.content);
});

test("fake groq - drops a stream midway after the given number of tokens", async () => {
  await using fake = await startFakeGroq({ defaultAnswer: "a b c d e f" });
  fake.failNext({ kind: "drop-stream", afterTokens: 2 });
  const stream = await client(fake.url).chat.completions.create({
    model: "m",
    stream: true,
    messages: [{ role: "user", content: "go" }],
  });
  const parts: string[] = [];
  await assert.rejects(async () => {
    for await (const chunk of stream) parts.push(chunk.choices[0]?.delta.content ?? "");
  });
  assert.deepEqual(parts.filter(Boolean), ["a", " b"]);
});

test("fake groq - transcribes multipart audio as json, verbose_json and text", async () => {
  await using fake = await startFakeGroq({ apiKey: "k" });
  fake.setTranscription("go forward ten meters");
  const groq = new Groq({ apiKey: "k", baseURL: fake.url, maxRetries: 0 });
  const wav = Buffer.alloc(44 + 32000);
  wav.write("RIFF", 0, "ascii");
  wav.write("WAVE", 8, "ascii");
  wav.writeUInt32LE(32000, 28);
  const plain = await groq.audio.transcriptions.create({
    file: await toFile(wav, "a.wav"),
    model: "whisper-large-v3-turbo",
  });
  assert.equal(plain.text, "go forward ten meters");
  const verbose = (await groq.audio.transcriptions.create({
    file: await toFile(wav, "a.wav"),
    model: "whisper-large-v3-turbo",
    response_format: "verbose_json",
    language: "en",
  })) as unknown as { text: string; duration: number; segments: unknown[] };
  assert.equal(verbose.duration, 1);
  assert.equal(verbose.segments.length, 1);
  const req = fake.requests.at(-1);
  assert.equal(req?.path, "/openai/v1/audio/transcriptions");
  assert.equal(req?.body.model, "whisper-large-v3-turbo");
  assert.equal(req?.body.language, "en");
  assert.equal(req?.body.file.size, wav.length);
  const wrongKey = await new Groq({ apiKey: "x", baseURL: fake.url, maxRetries: 0 }).models.list().catch((e) => e);
  assert.ok(wrongKey instanceof Groq.AuthenticationError);
});

test("fake groq - serves the same API under /v1 for OpenAI-compatible clients", async () => {
  await using fake = await startFakeGroq({ latency: { firstTokenMs: 30 } });
  const models = (await (await fetch(`${fake.openaiUrl}/models`)).json()) as { data: { id: string }[] };
  assert.ok(models.data.length > 0);
  const began = performance.now();
  const res = await fetch(`${fake.openaiUrl}/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "local", messages: [{ role: "user", content: "hi" }] }),
  });
  assert.equal(res.status, 200);
  assert.ok(performance.now() - began >= 25, "the first-token latency applies");
  assert.equal(fake.chatRequests().at(-1)?.path, "/v1/chat/completions");
  const missing = await fetch(`${fake.url}/nowhere`, { method: "POST" });
  assert.equal(missing.status, 404);
});
