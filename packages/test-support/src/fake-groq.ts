import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A fake of Groq's OpenAI-compatible API for tests: a real HTTP server on 127.0.0.1 that
 * groq-sdk (baseURL `url`) and the `openai` package (baseURL `openaiUrl`) talk to as they
 * would to the cloud. Routes, under both /openai/v1 and /v1:
 *   POST chat/completions      JSON, or SSE when `stream: true`
 *   POST audio/transcriptions  multipart; json, verbose_json or text
 *   GET  models
 */

/** A scripted chat answer: the text, optionally with the usage and finish reason to report. */
export type ScriptedAnswer =
  | string
  | { text: string; finishReason?: string; usage?: { promptTokens: number; completionTokens: number } };

/** A failure served instead of the next POST request (chat or transcription), in order. */
export type FakeFailure =
  /** 429 with a Retry-After header (seconds, may be fractional; default 1). */
  | { kind: "rate-limit"; retryAfterSeconds?: number }
  /** An HTTP error status from the server (default 500). */
  | { kind: "server-error"; status?: number }
  /** A chat stream that sends `afterTokens` content chunks (default 2) and then drops the connection. */
  | { kind: "drop-stream"; afterTokens?: number }
  /** The requested model is gone: 400 `model_decommissioned` or 404 `model_not_found`. */
  | { kind: "decommissioned"; status?: 400 | 404 };

export interface FakeLatency {
  /** Milliseconds before the response starts (the first token, or the whole JSON answer). */
  firstTokenMs: number;
  /** Milliseconds between streamed tokens. */
  perTokenMs: number;
}

export interface FakeGroqOptions {
  /** The chat answer when nothing is scripted. */
  defaultAnswer?: string;
  /** What the transcription route answers until `setTranscription`. */
  transcription?: string;
  latency?: Partial<FakeLatency>;
  /** Models listed by GET models. */
  models?: string[];
  /** Models that always answer 400 `model_decommissioned`, as Groq does for retired models. */
  decommissionedModels?: string[];
  /** When set, requests without `Authorization: Bearer <apiKey>` get 401. */
  apiKey?: string;
  /** Largest request body accepted (default 32 MiB); larger ones get 413. */
  maxBodyBytes?: number;
}

export interface RecordedRequest {
  method: string;
  /** The path without query, e.g. /openai/v1/chat/completions. */
  path: string;
  /** "chat", "transcription", "models" or "unknown", whichever prefix was used. */
  route: "chat" | "transcription" | "models" | "unknown";
  headers: IncomingMessage["headers"];
  /**
   * The parsed body: the JSON object for chat; for transcriptions the form fields plus
   * `file: { name, type, size, bytes }`; undefined for GET.
   */
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary parts of recorded JSON bodies
  body: any;
}

export interface FakeGroq extends AsyncDisposable {
  /** Base URL for groq-sdk (`new Groq({ baseURL: url })`); it appends /openai/v1/... */
  url: string;
  /** Base URL for OpenAI-compatible clients: `${url}/v1`. */
  openaiUrl: string;
  /** Every request received, oldest first. */
  requests: RecordedRequest[];
  /** Chat requests only, oldest first. */
  chatRequests(): RecordedRequest[];
  setTranscription(text: string): void;
  /** Queues answers for the next chat requests; afterwards the default answer is used. */
  script(...answers: ScriptedAnswer[]): void;
  /** Queues failures served to the next POST requests, one each, before any scripted answer. */
  failNext(...failures: FakeFailure[]): void;
  setLatency(latency: Partial<FakeLatency>): void;
  /** Chat requests being answered right now (streams still open). */
  readonly inFlight: number;
  close(): Promise<void>;
}

const DEFAULT_ANSWER = "This is the fake model speaking. It answers every question the same way.";

export async function startFakeGroq(options: FakeGroqOptions = {}): Promise<FakeGroq> {
  const requests: RecordedRequest[] = [];
  const scripted: ScriptedAnswer[] = [];
  const failures: FakeFailure[] = [];
  const latency: FakeLatency = { firstTokenMs: 0, perTokenMs: 0, ...options.latency };
  const decommissioned = new Set(options.decommissionedModels ?? []);
  const maxBodyBytes = options.maxBodyBytes ?? 32 * 1024 * 1024;
  let transcription = options.transcription ?? "hello world";
  let inFlight = 0;

  const server = createServer((req, res) => {
    handle(req, res).catch((err: Error) => {
      if (!res.headersSent) sendError(res, 500, "server_error", `fake groq failed: ${err.message}`);
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    const route = routeOf(path);
    const record: RecordedRequest = { method: req.method ?? "GET", path, route, headers: req.headers, body: undefined };
    requests.push(record);

    if (options.apiKey !== undefined && req.headers.authorization !== `Bearer ${options.apiKey}`) {
      return sendError(res, 401, "invalid_api_key", "Invalid API Key");
    }
    if (route === "models" && req.method === "GET") return sendModels(res);
    if (route === "unknown" || req.method !== "POST")
      return sendError(res, 404, "unknown_url", `Unknown request URL: ${req.method} ${path}`);

    const raw = await readBody(req, maxBodyBytes);
    if (raw === undefined) return sendError(res, 413, "request_too_large", "Request Entity Too Large");

    if (route === "transcription") {
      record.body = await parseForm(raw, req.headers["content-type"] ?? "");
      const failure = failures.shift();
      if (failure) return sendFailure(res, failure, record.body?.model);
      if (!(await wait(latency.firstTokenMs, res))) return;
      return sendTranscription(res, record.body, transcription);
    }

    try {
      record.body = JSON.parse(raw.toString("utf8"));
    } catch {
      return sendError(res, 400, "invalid_request_error", "request body is not JSON");
    }
    const body = record.body as {
      model?: string;
      stream?: boolean;
      messages?: unknown[];
      stream_options?: { include_usage?: boolean };
    };
    if (typeof body.model !== "string" || !Array.isArray(body.messages)) {
      return sendError(res, 400, "invalid_request_error", "'model' and 'messages' are required");
    }
    if (decommissioned.has(body.model)) return sendFailure(res, { kind: "decommissioned", status: 400 }, body.model);
    const failure = failures.shift();
    if (failure && failure.kind !== "drop-stream") return sendFailure(res, failure, body.model);

    const answer = normalise(scripted.shift() ?? options.defaultAnswer ?? DEFAULT_ANSWER, body.messages);
    inFlight++;
    res.once("close", () => inFlight--);
    if (!(await wait(latency.firstTokenMs, res))) return;
    if (body.stream) {
      await streamChat(res, body.model, answer, body.stream_options?.include_usage === true, failure);
    } else if (failure) {
      res.destroy();
    } else {
      sendJson(res, 200, completion(body.model, answer));
    }
  }

  async function streamChat(
    res: ServerResponse,
    model: string,
    answer: Answer,
    includeUsage: boolean,
    drop: FakeFailure | undefined,
  ): Promise<void> {
    const id = `chatcmpl-${randomUUID()}`;
    const created = Math.floor(Date.now() / 1000);
    const chunk = (delta: object, finishReason: string | null, extra: object = {}) => ({
      id,
      object: "chat.completion.chunk",
      created,
      model,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
      ...extra,
    });
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
    // Resolves once the event reached the socket, so a dropped stream has delivered what came before.
    const send = (data: object | string) =>
      new Promise<void>((resolve) =>
        res.write(`data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`, () => resolve()),
      );
    await send(chunk({ role: "assistant", content: "" }, null, { x_groq: { id: `req_${id}` } }));
    const tokens = tokenize(answer.text);
    const dropAfter = drop?.kind === "drop-stream" ? (drop.afterTokens ?? 2) : Number.POSITIVE_INFINITY;
    for (const [i, token] of tokens.entries()) {
      if (i >= dropAfter) {
        res.destroy();
        return;
      }
      if (i > 0 && !(await wait(latency.perTokenMs, res))) return;
      await send(chunk({ content: token }, null));
    }
    const usage = usageOf(answer);
    await send(chunk({}, answer.finishReason, { x_groq: { id: `req_${id}`, usage } }));
    if (includeUsage) await send({ id, object: "chat.completion.chunk", created, model, choices: [], usage });
    await send("[DONE]");
    res.end();
  }

  function sendFailure(res: ServerResponse, failure: FakeFailure, model: string | undefined): void {
    if (failure.kind === "drop-stream") {
      res.destroy();
    } else if (failure.kind === "rate-limit") {
      res.setHeader("retry-after", String(failure.retryAfterSeconds ?? 1));
      sendError(res, 429, "rate_limit_exceeded", "Rate limit reached, please try again later.");
    } else if (failure.kind === "server-error") {
      sendError(res, failure.status ?? 500, "internal_server_error", "Internal Server Error");
    } else if (failure.status === 404) {
      sendError(res, 404, "model_not_found", `The model \`${model}\` does not exist or you do not have access to it.`);
    } else {
      const message = `The model \`${model}\` has been decommissioned and is no longer supported.`;
      sendError(res, 400, "model_decommissioned", message);
    }
  }

  function sendModels(res: ServerResponse): void {
    const ids = options.models ?? [
      "meta-llama/llama-4-scout-17b-16e-instruct",
      "llama-3.1-8b-instant",
      "whisper-large-v3-turbo",
    ];
    sendJson(res, 200, {
      object: "list",
      data: ids.map((id) => ({
        id,
        object: "model",
        created: 1700000000,
        owned_by: "Fake",
        active: true,
        context_window: 131072,
      })),
    });
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  let closed: Promise<void> | undefined;
  const close = () => {
    closed ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    return closed;
  };

  return {
    url,
    openaiUrl: `${url}/v1`,
    requests,
    chatRequests: () => requests.filter((r) => r.route === "chat"),
    setTranscription(text) {
      transcription = text;
    },
    script(...answers) {
      scripted.push(...answers);
    },
    failNext(...next) {
      failures.push(...next);
    },
    setLatency(next) {
      Object.assign(latency, next);
    },
    get inFlight() {
      return inFlight;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

interface Answer {
  text: string;
  finishReason: string;
  promptTokens: number;
  completionTokens: number;
}

function normalise(answer: ScriptedAnswer, messages: unknown[]): Answer {
  const a = typeof answer === "string" ? { text: answer } : answer;
  return {
    text: a.text,
    finishReason: a.finishReason ?? "stop",
    promptTokens: a.usage?.promptTokens ?? Math.max(1, Math.ceil(JSON.stringify(messages).length / 4)),
    completionTokens: a.usage?.completionTokens ?? tokenize(a.text).length,
  };
}

function usageOf(a: Answer) {
  return {
    prompt_tokens: a.promptTokens,
    completion_tokens: a.completionTokens,
    total_tokens: a.promptTokens + a.completionTokens,
  };
}

function completion(model: string, a: Answer) {
  return {
    id: `chatcmpl-${randomUUID()}`,
    object: "chat.completion",
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [
      { index: 0, message: { role: "assistant", content: a.text }, logprobs: null, finish_reason: a.finishReason },
    ],
    usage: usageOf(a),
  };
}

/** Word-sized tokens that keep their leading whitespace, so joining them restores the text. */
export function tokenize(text: string): string[] {
  return text.match(/\s*\S+/g) ?? (text ? [text] : []);
}

function routeOf(path: string): RecordedRequest["route"] {
  const rest = path.startsWith("/openai/v1/") ? path.slice(10) : path.startsWith("/v1/") ? path.slice(3) : "";
  if (rest === "/chat/completions") return "chat";
  if (rest === "/audio/transcriptions") return "transcription";
  if (rest === "/models") return "models";
  return "unknown";
}

/** Resolves true after `ms`, or false as soon as the client went away. */
function wait(ms: number, res: ServerResponse): Promise<boolean> {
  if (res.destroyed) return Promise.resolve(false);
  if (ms <= 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const onClose = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      res.off("close", onClose);
      resolve(!res.destroyed);
    }, ms);
    res.once("close", onClose);
  });
}

/** The whole body, or undefined when it is larger than `max` bytes. */
function readBody(req: IncomingMessage, max: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= max) chunks.push(chunk);
    });
    req.on("end", () => resolve(size > max ? undefined : Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

/** Multipart parsing by the platform's own fetch implementation. */
async function parseForm(raw: Buffer, contentType: string): Promise<Record<string, unknown>> {
  const form = await new Response(raw, { headers: { "content-type": contentType } }).formData();
  const out: Record<string, unknown> = {};
  for (const [key, value] of form.entries()) {
    if (typeof value === "string") out[key] = value;
    else {
      const bytes = Buffer.from(await value.arrayBuffer());
      out[key] = { name: value.name, type: value.type, size: bytes.length, bytes };
    }
  }
  return out;
}

function sendTranscription(res: ServerResponse, body: Record<string, unknown>, text: string): void {
  const file = body.file as { bytes: Buffer } | undefined;
  if (!file) {
    sendError(res, 400, "invalid_request_error", "file is required");
    return;
  }
  const format = typeof body.response_format === "string" ? body.response_format : "json";
  if (format === "text") {
    res.writeHead(200, { "content-type": "text/plain; charset=utf-8" }).end(text);
    return;
  }
  const xGroq = { id: `req_${randomUUID()}` };
  if (format !== "verbose_json") {
    sendJson(res, 200, { text, x_groq: xGroq });
    return;
  }
  const duration = wavSeconds(file.bytes);
  sendJson(res, 200, {
    task: "transcribe",
    language: typeof body.language === "string" ? body.language : "English",
    duration,
    text,
    segments: [
      {
        id: 0,
        seek: 0,
        start: 0,
        end: duration,
        text,
        tokens: [],
        temperature: 0,
        avg_logprob: -0.2,
        compression_ratio: 1,
        no_speech_prob: 0.01,
      },
    ],
    x_groq: xGroq,
  });
}

/** Length of a canonical WAV file in seconds from its byte rate; 0 for anything else. */
function wavSeconds(bytes: Buffer): number {
  if (bytes.length < 44 || bytes.toString("ascii", 0, 4) !== "RIFF" || bytes.toString("ascii", 8, 12) !== "WAVE")
    return 0;
  const byteRate = bytes.readUInt32LE(28);
  return byteRate > 0 ? (bytes.length - 44) / byteRate : 0;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) }).end(text);
}

function sendError(res: ServerResponse, status: number, code: string, message: string): void {
  const type = status === 429 ? "tokens" : status >= 500 ? "internal_server_error" : "invalid_request_error";
  sendJson(res, status, { error: { message, type, code } });
}
