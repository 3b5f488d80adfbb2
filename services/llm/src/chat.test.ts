import assert from "node:assert/strict";
import { test } from "node:test";
import { llm } from "@hotpin/contracts";
import {
  bindGrpcServer,
  createGrpcClient,
  createGrpcServer,
  createLogger,
  deadlineIn,
  type grpc,
  readConfig,
  stopGrpcServer,
} from "@hotpin/runtime";
import { type FakeGroq, startFakeGroq } from "@hotpin/test-support";
import { Registry } from "prom-client";
import { createLlmApp, type LlmApp } from "./app";
import { llmSettings } from "./config";

const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00]);

interface Harness extends AsyncDisposable {
  client: llm.LanguageModelClient;
  app: LlmApp;
  registry: Registry;
  clock: { now: number };
}

/** The service on a real gRPC port 0, configured by env-style settings like the process is. */
async function startLlm(env: Record<string, string>): Promise<Harness> {
  const cfg = readConfig(llmSettings, {
    HOTPIN_LLM_RETRY_BASE_MS: "1",
    HOTPIN_LLM_RETRY_MAX_MS: "5",
    ...env,
  });
  const registry = new Registry();
  const clock = { now: Date.now() };
  const app = createLlmApp(cfg, {
    log: createLogger("llm", "silent"),
    registry,
    now: () => clock.now,
    random: () => 0.5,
  });
  const server = createGrpcServer();
  app.register(server);
  const port = await bindGrpcServer(server, "127.0.0.1", 0);
  const client = createGrpcClient(llm.LanguageModelClient, `127.0.0.1:${port}`);
  return {
    client,
    app,
    registry,
    clock,
    async [Symbol.asyncDispose]() {
      client.close();
      await stopGrpcServer(server, 1_000);
    },
  };
}

const groqEnv = (fake: FakeGroq, more: Record<string, string> = {}) => ({
  GROQ_API_KEY: "test-key",
  GROQ_BASE_URL: fake.url,
  ...more,
});

interface Outcome {
  deltas: string[];
  segments: { index: number; text: string }[];
  final: llm.Final | undefined;
  error: grpc.ServiceError | undefined;
}

function chat(
  client: llm.LanguageModelClient,
  request: Partial<llm.ChatRequest>,
  options: { deadlineMs?: number; onDelta?: (call: grpc.ClientReadableStream<llm.ChatResponse>) => void } = {},
): Promise<Outcome> {
  const call = client.chat(
    {
      history: [],
      userText: "",
      systemPrompt: "",
      maxOutputTokens: 0,
      deviceId: "dev-1",
      sessionId: "s-1",
      ...request,
    },
    { deadline: deadlineIn(options.deadlineMs ?? 10_000) },
  );
  const out: Outcome = { deltas: [], segments: [], final: undefined, error: undefined };
  return new Promise((resolve) => {
    call.on("data", (res: llm.ChatResponse) => {
      const e = res.event;
      if (e?.$case === "delta") {
        out.deltas.push(e.value.text);
        options.onDelta?.(call);
      }
      if (e?.$case === "segment") out.segments.push(e.value);
      if (e?.$case === "final") out.final = e.value;
    });
    call.on("error", (err: grpc.ServiceError) => {
      out.error = err;
      resolve(out);
    });
    call.on("end", () => resolve(out));
  });
}

/** Resolves once `cond` holds, checking after every turn of the event loop; fails after `ms`. */
async function until(cond: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setImmediate(r));
  }
}

async function metric(registry: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  const hit = m?.values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val));
  return hit?.value ?? 0;
}

test("llm - sends a multimodal request: system prompt, trimmed history, text and an image data URL", async () => {
  await using fake = await startFakeGroq();
  await using llmSvc = await startLlm(groqEnv(fake, { HOTPIN_LLM_MAX_HISTORY_TURNS: "2" }));
  const out = await chat(llmSvc.client, {
    userText: "What am I holding?",
    image: { data: JPEG, mimeType: "image/jpeg" },
    history: [
      { role: llm.Role.ROLE_USER, text: "oldest, dropped" },
      { role: llm.Role.ROLE_USER, text: "Hi" },
      { role: llm.Role.ROLE_ASSISTANT, text: "Hello!" },
    ],
    maxOutputTokens: 99_999,
  });
  assert.equal(out.error, undefined);
  const body = fake.chatRequests()[0]?.body;
  assert.equal(body.model, "meta-llama/llama-4-scout-17b-16e-instruct");
  assert.equal(body.stream, true);
  assert.equal(body.max_completion_tokens, 1024, "capped by HOTPIN_LLM_MAX_OUTPUT_TOKENS_CAP");
  assert.equal(body.messages[0].role, "system");
  assert.match(body.messages[0].content, /voice assistant/);
  assert.deepEqual(body.messages.slice(1, 3), [
    { role: "user", content: "Hi" },
    { role: "assistant", content: "Hello!" },
  ]);
  const user = body.messages[3];
  assert.equal(user.role, "user");
  assert.deepEqual(user.content[0], { type: "text", text: "What am I holding?" });
  assert.equal(user.content[1].type, "image_url");
  assert.equal(user.content[1].image_url.url, `data:image/jpeg;base64,${JPEG.toString("base64")}`);
  assert.equal(out.final?.provider, "groq");
  assert.ok((out.final?.usage?.completionTokens ?? 0) > 0);
});

test("llm - streams deltas, then speech segments in order cleaned of markdown and emojis, then the final text", async () => {
  await using fake = await startFakeGroq();
  const answer = "**Sure!** 😀 It is a red mug. The handle is on the left side. See https://example.com for mugs.";
  fake.script(answer);
  await using llmSvc = await startLlm(groqEnv(fake));
  const out = await chat(llmSvc.client, { userText: "Describe it" });
  assert.equal(out.error, undefined);
  assert.equal(out.deltas.join(""), answer);
  assert.deepEqual(out.segments, [
    { index: 0, text: "Sure! It is a red mug." },
    { index: 1, text: "The handle is on the left side." },
    { index: 2, text: "See for mugs." },
  ]);
  assert.equal(out.final?.text, answer, "the final text keeps the markdown for display and history");
  assert.equal(out.final?.finishReason, "stop");
});

test("llm - retries after a 429 honouring Retry-After, then answers", async () => {
  await using fake = await startFakeGroq();
  fake.failNext({ kind: "rate-limit", retryAfterSeconds: 0.02 });
  fake.script("Second time lucky.");
  await using llmSvc = await startLlm(groqEnv(fake));
  const out = await chat(llmSvc.client, { userText: "hi" });
  assert.equal(out.error, undefined);
  assert.equal(out.final?.text, "Second time lucky.");
  assert.equal(fake.chatRequests().length, 2);
  assert.equal(await metric(llmSvc.registry, "hotpin_llm_retries_total", { reason: "rate_limited" }), 1);
});

test("llm - a Retry-After longer than allowed fails at once instead of waiting", async () => {
  await using fake = await startFakeGroq();
  fake.failNext({ kind: "rate-limit", retryAfterSeconds: 30 });
  await using llmSvc = await startLlm(groqEnv(fake, { HOTPIN_LLM_MAX_RETRY_AFTER_MS: "1000" }));
  const out = await chat(llmSvc.client, { userText: "hi" });
  assert.equal(out.error?.code, 14 /* UNAVAILABLE */);
  assert.match(out.error?.details ?? "", /rate limit/);
  assert.equal(fake.chatRequests().length, 1);
});

test("llm - retries server errors with backoff up to the attempt limit", async () => {
  await using fake = await startFakeGroq();
  fake.failNext({ kind: "server-error" }, { kind: "server-error", status: 503 });
  await using llmSvc = await startLlm(groqEnv(fake, { HOTPIN_LLM_MAX_ATTEMPTS: "3" }));
  const out = await chat(llmSvc.client, { userText: "hi" });
  assert.equal(out.error, undefined);
  assert.equal(fake.chatRequests().length, 3);
});

test("llm - does not retry once the stream broke midway; the caller gets a clear error", async () => {
  await using fake = await startFakeGroq({ defaultAnswer: "One two three four five six seven." });
  fake.failNext({ kind: "drop-stream", afterTokens: 3 });
  await using llmSvc = await startLlm(groqEnv(fake));
  const out = await chat(llmSvc.client, { userText: "count" });
  assert.deepEqual(out.deltas, ["One", " two", " three"]);
  assert.equal(out.error?.code, 14 /* UNAVAILABLE */);
  assert.match(out.error?.details ?? "", /broke off midway/);
  assert.equal(fake.chatRequests().length, 1, "no second request after tokens were streamed");
  assert.equal(out.final, undefined);
});

test("llm - falls back to the next model when the model is decommissioned or missing", async () => {
  await using fake = await startFakeGroq({ decommissionedModels: ["retired-model"] });
  fake.failNext({ kind: "decommissioned", status: 404 });
  await using llmSvc = await startLlm(
    groqEnv(fake, {
      HOTPIN_LLM_GROQ_MODEL: "retired-model",
      HOTPIN_LLM_GROQ_FALLBACK_MODELS: "missing-model,good-model",
    }),
  );
  const out = await chat(llmSvc.client, { userText: "hi" });
  assert.equal(out.error, undefined);
  assert.equal(out.final?.model, "good-model");
  assert.deepEqual(
    fake.chatRequests().map((r) => r.body.model),
    ["retired-model", "missing-model", "good-model"],
  );
  assert.equal(await metric(llmSvc.registry, "hotpin_llm_model_fallbacks_total", { model: "retired-model" }), 1);
});

test("llm - ends with DEADLINE_EXCEEDED at the service deadline and aborts the upstream request", async () => {
  await using fake = await startFakeGroq({ latency: { firstTokenMs: 5_000 } });
  await using llmSvc = await startLlm(groqEnv(fake, { HOTPIN_LLM_DEADLINE_MS: "150" }));
  const out = await chat(llmSvc.client, { userText: "hi" });
  assert.equal(out.error?.code, 4 /* DEADLINE_EXCEEDED */);
  assert.match(out.error?.details ?? "", /did not answer in time/);
  assert.equal(fake.chatRequests().length, 1);
  await until(() => fake.inFlight === 0);
});

test("llm - a first token that never comes abandons the attempt and retries", async () => {
  await using fake = await startFakeGroq({ latency: { firstTokenMs: 5_000 } });
  await using llmSvc = await startLlm(
    groqEnv(fake, { HOTPIN_LLM_FIRST_TOKEN_TIMEOUT_MS: "100", HOTPIN_LLM_MAX_ATTEMPTS: "2" }),
  );
  const out = await chat(llmSvc.client, { userText: "hi" });
  assert.equal(out.error?.code, 14 /* UNAVAILABLE */);
  assert.match(out.error?.details ?? "", /timed out|first token/);
  assert.equal(fake.chatRequests().length, 2);
  assert.equal(await metric(llmSvc.registry, "hotpin_llm_retries_total", { reason: "timeout" }), 1);
});

test("llm - circuit breaker opens after repeated failures, fails fast, then half-opens for one trial", async () => {
  await using fake = await startFakeGroq();
  await using llmSvc = await startLlm(
    groqEnv(fake, {
      HOTPIN_LLM_BREAKER_FAILURES: "2",
      HOTPIN_LLM_BREAKER_OPEN_MS: "30000",
      HOTPIN_LLM_MAX_ATTEMPTS: "1",
    }),
  );
  const breaker = llmSvc.app.slots[0]!.breaker;
  fake.failNext({ kind: "server-error" }, { kind: "server-error" });
  assert.equal((await chat(llmSvc.client, { userText: "a" })).error?.code, 14);
  assert.equal(breaker.state, "closed");
  assert.equal((await chat(llmSvc.client, { userText: "b" })).error?.code, 14);
  assert.equal(breaker.state, "open");
  assert.equal(await metric(llmSvc.registry, "hotpin_llm_circuit_state", { provider: "groq" }), 2);

  const fast = await chat(llmSvc.client, { userText: "c" });
  assert.equal(fast.error?.code, 14);
  assert.match(fast.error?.details ?? "", /circuit is open/);
  assert.equal(fake.chatRequests().length, 2, "an open circuit sends nothing to the provider");

  // Half-open: the trial fails, so the circuit opens again.
  llmSvc.clock.now += 30_000;
  fake.failNext({ kind: "server-error" });
  assert.equal((await chat(llmSvc.client, { userText: "d" })).error?.code, 14);
  assert.equal(fake.chatRequests().length, 3);
  assert.equal(breaker.state, "open");

  // Half-open again: the trial succeeds and closes the circuit.
  llmSvc.clock.now += 30_000;
  const ok = await chat(llmSvc.client, { userText: "e" });
  assert.equal(ok.error, undefined);
  assert.equal(breaker.state, "closed");
  assert.equal(await metric(llmSvc.registry, "hotpin_llm_circuit_state", { provider: "groq" }), 0);
});

test("llm - the OpenAI-compatible provider works against the same fake, with usage and the image", async () => {
  await using fake = await startFakeGroq();
  fake.script("Local answer here.");
  await using llmSvc = await startLlm({
    HOTPIN_LLM_OPENAI_BASE_URL: fake.openaiUrl,
    HOTPIN_LLM_OPENAI_MODEL: "llama3.2-vision",
  });
  const out = await chat(llmSvc.client, { userText: "what is it", image: { data: JPEG, mimeType: "" } });
  assert.equal(out.error, undefined);
  assert.equal(out.final?.provider, "openai");
  assert.equal(out.final?.model, "llama3.2-vision");
  assert.ok((out.final?.usage?.completionTokens ?? 0) > 0);
  const req = fake.chatRequests()[0];
  assert.equal(req?.path, "/v1/chat/completions");
  assert.equal(req?.body.stream_options.include_usage, true);
  assert.match(req?.body.messages.at(-1).content[1].image_url.url, /^data:image\/jpeg;base64,/);
});

test("llm - falls over to the next provider when the first one keeps failing", async () => {
  await using fake = await startFakeGroq();
  fake.failNext({ kind: "server-error" });
  await using llmSvc = await startLlm(
    groqEnv(fake, { HOTPIN_LLM_OPENAI_BASE_URL: fake.openaiUrl, HOTPIN_LLM_MAX_ATTEMPTS: "1" }),
  );
  const out = await chat(llmSvc.client, { userText: "hi" });
  assert.equal(out.error, undefined);
  assert.equal(out.final?.provider, "openai");
});

test("llm - with no provider configured, chats fail at once with FAILED_PRECONDITION and readiness says why", async () => {
  await using llmSvc = await startLlm({});
  const out = await chat(llmSvc.client, { userText: "hi" });
  assert.equal(out.error?.code, 9 /* FAILED_PRECONDITION */);
  assert.equal(out.error?.details, "no language model is configured");
  assert.match(String(llmSvc.app.check()), /GROQ_API_KEY/);
});

test("llm - refuses bad input with INVALID_ARGUMENT before calling the provider", async () => {
  await using fake = await startFakeGroq();
  await using llmSvc = await startLlm(
    groqEnv(fake, { HOTPIN_LLM_MAX_IMAGE_BYTES: "8", HOTPIN_LLM_MAX_USER_TEXT_CHARS: "10" }),
  );
  const empty = await chat(llmSvc.client, { userText: "  " });
  assert.equal(empty.error?.code, 3);
  const long = await chat(llmSvc.client, { userText: "x".repeat(11) });
  assert.equal(long.error?.code, 3);
  const big = await chat(llmSvc.client, { userText: "hi", image: { data: JPEG, mimeType: "image/jpeg" } });
  assert.equal(big.error?.code, 3);
  assert.match(big.error?.details ?? "", /larger than 8 bytes/);
  const notImage = await chat(llmSvc.client, { userText: "hi", image: { data: Buffer.from("GIF8"), mimeType: "" } });
  assert.equal(notImage.error?.code, 3);
  assert.equal(fake.chatRequests().length, 0);
});

test("llm - refuses chats beyond capacity with RESOURCE_EXHAUSTED; cancelling aborts the upstream stream", async () => {
  await using fake = await startFakeGroq({ defaultAnswer: "a b c d e f g h i j", latency: { perTokenMs: 1_000 } });
  await using llmSvc = await startLlm(groqEnv(fake, { HOTPIN_LLM_MAX_CONCURRENT_CHATS: "1" }));
  let firstCall: grpc.ClientReadableStream<llm.ChatResponse> | undefined;
  let first: Promise<Outcome> | undefined;
  await new Promise<void>((resolve) => {
    first = chat(
      llmSvc.client,
      { userText: "slow" },
      {
        onDelta: (call) => {
          firstCall = call;
          resolve();
        },
      },
    );
  });
  const refused = await chat(llmSvc.client, { userText: "another" });
  assert.equal(refused.error?.code, 8 /* RESOURCE_EXHAUSTED */);
  firstCall?.cancel();
  assert.equal((await first)?.error?.code, 1 /* CANCELLED */);
  await until(() => fake.inFlight === 0);
});
