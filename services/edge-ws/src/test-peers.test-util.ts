import { randomBytes } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import { health, llm, storage, stt, tts } from "@hotpin/contracts";
import { connectNats, createLogger, createRegistry, ensureEventStream } from "@hotpin/runtime";
import { jetstream } from "@nats-io/jetstream";

import { WebSocket } from "ws";
import { readEdgeConfig } from "./config";
import { createEdge } from "./edge";
import { type EventPayload, EventPublisher } from "./events";
import { createEdgeMetrics } from "./metrics";
import { closeServices, connectServices } from "./pipeline/services";

/**
 * Test peers for the edge's gRPC dependencies: small real gRPC servers speaking the contracts
 * with fixed, inspectable behaviour, so the edge's own logic can be tested without engines.
 * The real services are exercised by the mesh end-to-end test.
 */
export interface PeerBehaviour {
  transcript: string;
  llm: "ok" | "unconfigured";
  ttsFails: boolean;
  /** When set, an LLM call holds its answer until this settles (an utterance kept in flight). */
  llmHold?: Promise<void>;
  /** Told when an LLM call starts. */
  onChat?: () => void;
  /** PCM bytes each sentence's speech takes (default 8000). */
  ttsBytes?: number;
  /** The STT confidence of a heard transcript (default 0.9). */
  confidence?: number;
}

export const STATIC_TOKEN = "static-test-token";
export const SECRET = "edge-test-secret-0123456789abcdefgh";

function rmsOf(pcm: Buffer): number {
  let sum = 0;
  const n = Math.floor(pcm.length / 2);
  for (let i = 0; i < n; i++) sum += pcm.readInt16LE(i * 2) ** 2;
  return n ? Math.sqrt(sum / n) : 0;
}

export function tone(bytes: number, amplitude = 3000): Buffer {
  const b = Buffer.alloc(bytes);
  for (let i = 0; i < bytes / 2; i++) b.writeInt16LE(Math.round(amplitude * Math.sin(i / 5)), i * 2);
  return b;
}

export async function startPeers(behaviour: PeerBehaviour) {
  const server = new grpc.Server();
  const histories: string[][] = [];
  /** The image each LLM call carried (undefined: none). */
  const images: (llm.Image | undefined)[] = [];
  const blobOwners = new Map<string, string>();
  /** The sample rate each TTS call of a reply's sentences asked for (cached prompts send text instead). */
  const ttsRates: number[] = [];
  server.addService(stt.SpeechToTextService, {
    recognize(call: grpc.ServerDuplexStream<stt.RecognizeRequest, stt.RecognizeResponse>) {
      const parts: Buffer[] = [];
      let partials = false;
      call.on("data", (req: stt.RecognizeRequest) => {
        if (req.request?.$case === "config") partials = req.request.value.partialResults;
        if (req.request?.$case === "audio") {
          parts.push(req.request.value);
          if (partials && parts.length === 2)
            call.write({ result: { $case: "partial", value: { text: "go", audioMs: 0 } } });
        }
      });
      call.on("end", () => {
        const pcm = Buffer.concat(parts);
        const rms = rmsOf(pcm);
        const heard = rms >= 50 ? behaviour.transcript : "";
        call.write({
          result: {
            $case: "final",
            value: {
              text: heard,
              words: [],
              confidence: heard ? (behaviour.confidence ?? 0.9) : 0,
              engine: "test",
              processingMs: 1,
              quality: { durationMs: pcm.length / 32, rms, peak: 0, clippingRatio: 0, speechRatio: 0.5 },
            },
          },
        });
        call.end();
      });
    },
    recognizeFile(_call: unknown, cb: grpc.sendUnaryData<stt.RecognizeFileResponse>) {
      cb({ code: grpc.status.UNIMPLEMENTED, details: "not in the test peer" } as grpc.ServiceError);
    },
  });
  server.addService(llm.LanguageModelService, {
    async chat(call: grpc.ServerWritableStream<llm.ChatRequest, llm.ChatResponse>) {
      histories.push(call.request.history.map((t) => t.text));
      images.push(call.request.image);
      behaviour.onChat?.();
      await behaviour.llmHold;
      if (behaviour.llm === "unconfigured") {
        call.emit("error", { code: grpc.status.FAILED_PRECONDITION, details: "no provider" });
        return;
      }
      const segs = ["Hello there.", "You said something."];
      for (const [index, text] of segs.entries()) call.write({ event: { $case: "segment", value: { index, text } } });
      call.write({
        event: {
          $case: "final",
          value: { text: segs.join(" "), usage: undefined, provider: "test", model: "m", finishReason: "stop" },
        },
      });
      call.end();
    },
  });
  server.addService(tts.TextToSpeechService, {
    synthesize(call: grpc.ServerWritableStream<tts.SynthesizeRequest, tts.SynthesizeResponse>) {
      if (behaviour.ttsFails) {
        call.emit("error", { code: grpc.status.UNAVAILABLE, details: "down" });
        return;
      }
      if (call.request.sentences.length > 0) ttsRates.push(call.request.sampleRateHz);
      const pcm = tone(behaviour.ttsBytes ?? 8000);
      call.write({ event: { $case: "chunk", value: { pcm, sentenceIndex: 0 } } });
      call.write({
        event: {
          $case: "done",
          value: { durationMs: 250, totalBytes: pcm.length, sampleRateHz: 16000, sentencesSpoken: 1, truncated: false },
        },
      });
      call.end();
    },
  });
  const turns: storage.ConversationTurn[] = [];
  const blobs = new Map<string, Buffer>();
  const tokens = new Map<string, { blobId: string; expires: number }>();
  const ok = <T>(cb: grpc.sendUnaryData<T>, v: T) => cb(null, v);
  server.addService(storage.StorageService, {
    clearConversation: (
      c: grpc.ServerUnaryCall<storage.ClearConversationRequest, storage.ClearConversationResponse>,
      cb: grpc.sendUnaryData<storage.ClearConversationResponse>,
    ) => {
      for (let i = turns.length - 1; i >= 0; i--) if (turns[i]?.deviceId === c.request.deviceId) turns.splice(i, 1);
      ok(cb, {});
    },
    deleteBlob: (
      c: grpc.ServerUnaryCall<storage.DeleteBlobRequest, storage.DeleteBlobResponse>,
      cb: grpc.sendUnaryData<storage.DeleteBlobResponse>,
    ) => {
      blobs.delete(c.request.id);
      ok(cb, {});
    },
    appendTurn: (
      c: grpc.ServerUnaryCall<storage.AppendTurnRequest, storage.AppendTurnResponse>,
      cb: grpc.sendUnaryData<storage.AppendTurnResponse>,
    ) => {
      if (c.request.turn) turns.push(c.request.turn);
      ok(cb, {});
    },
    recentTurns: (
      c: grpc.ServerUnaryCall<storage.RecentTurnsRequest, storage.RecentTurnsResponse>,
      cb: grpc.sendUnaryData<storage.RecentTurnsResponse>,
    ) => ok(cb, { turns: turns.filter((t) => t.deviceId === c.request.deviceId) }),
    putBlob: (
      call: grpc.ServerReadableStream<storage.PutBlobRequest, storage.BlobInfo>,
      cb: grpc.sendUnaryData<storage.BlobInfo>,
    ) => {
      const parts: Buffer[] = [];
      let owner = "";
      call.on("data", (r: storage.PutBlobRequest) => {
        if (r.part?.$case === "chunk") parts.push(r.part.value);
        if (r.part?.$case === "meta") owner = r.part.value.deviceId;
      });
      call.on("end", () => {
        const id = randomBytes(8).toString("hex");
        blobs.set(id, Buffer.concat(parts));
        blobOwners.set(id, owner);
        ok(cb, storage.BlobInfo.fromPartial({ id, sizeBytes: blobs.get(id)?.length ?? 0 }));
      });
    },
    createDownloadToken: (
      c: grpc.ServerUnaryCall<storage.CreateDownloadTokenRequest, storage.DownloadToken>,
      cb: grpc.sendUnaryData<storage.DownloadToken>,
    ) => {
      const token = randomBytes(32).toString("base64url"); // storage's shape: 43 characters
      tokens.set(token, { blobId: c.request.blobId, expires: Date.now() + c.request.ttlSeconds * 1000 });
      ok(cb, { token, blobId: c.request.blobId, expiresAt: undefined });
    },
    resolveDownloadToken: (
      c: grpc.ServerUnaryCall<storage.ResolveDownloadTokenRequest, storage.BlobInfo>,
      cb: grpc.sendUnaryData<storage.BlobInfo>,
    ) => {
      const t = tokens.get(c.request.token);
      if (!t || t.expires < Date.now())
        return cb({ code: grpc.status.NOT_FOUND, details: "no token" } as grpc.ServiceError);
      ok(cb, storage.BlobInfo.fromPartial({ id: t.blobId, sizeBytes: blobs.get(t.blobId)?.length ?? 0 }));
    },
    getBlob: (call: grpc.ServerWritableStream<storage.GetBlobRequest, storage.GetBlobResponse>) => {
      const data = blobs.get(call.request.id) ?? Buffer.alloc(0);
      call.write({
        part: {
          $case: "info",
          value: storage.BlobInfo.fromPartial({
            id: call.request.id,
            deviceId: blobOwners.get(call.request.id) ?? "",
            sizeBytes: data.length,
            contentType: "audio/wav",
          }),
        },
      });
      call.write({ part: { $case: "chunk", value: data } });
      call.end();
    },
  });
  // grpc.health.v1, so that an edge process in front of these peers reports ready.
  server.addService(health.HealthService, {
    check: (_c: unknown, cb: grpc.sendUnaryData<health.HealthCheckResponse>) =>
      cb(null, { status: health.HealthCheckResponse_ServingStatus.SERVING }),
    watch: (call: grpc.ServerWritableStream<health.HealthCheckRequest, health.HealthCheckResponse>) => call.end(),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  return {
    address: `127.0.0.1:${port}`,
    turns,
    histories,
    images,
    ttsRates,
    blobs,
    stop: () => server.forceShutdown(),
  };
}

/**
 * An edge in this process, from the composition root main.ts uses, in front of the given peers. With `natsUrl`, its
 * fleet features (image pointers, ownership, commands, /events) run on that NATS server.
 */
export async function startEdge(peerAddress: string, env: Record<string, string> = {}, natsUrl?: string) {
  const cfg = readEdgeConfig({
    HOTPIN_EDGE_HOST: "127.0.0.1",
    HOTPIN_EDGE_PORT: "0",
    HOTPIN_STT_ADDRESS: peerAddress,
    HOTPIN_LLM_ADDRESS: peerAddress,
    HOTPIN_TTS_ADDRESS: peerAddress,
    HOTPIN_STORAGE_ADDRESS: peerAddress,
    HOTPIN_DEVICE_TOKENS: STATIC_TOKEN,
    HOTPIN_TOKEN_SECRET: SECRET,
    HOTPIN_EDGE_DETECT_MS: "200",
    HOTPIN_EDGE_PLAYBACK_READY_TIMEOUT_MS: "300",
    HOTPIN_EDGE_PLAYBACK_LEAD_MS: "60000",
    ...env,
  });
  const log = createLogger("edge-test", process.env.HOTPIN_TEST_LOGS === "1" ? "debug" : "silent");
  const metrics = createEdgeMetrics(createRegistry("edge"));
  const services = connectServices({ stt: peerAddress, llm: peerAddress, tts: peerAddress, storage: peerAddress });
  const events: { deviceId: string; payload: EventPayload }[] = [];
  const nc = natsUrl ? await connectNats({ servers: natsUrl, name: "edge-test", log }) : undefined;
  // With NATS, events also go to JetStream, as in main.ts (other replicas and /events see them).
  const publisher = nc ? new EventPublisher(cfg.instance, cfg.eventBuffer, log, metrics) : undefined;
  if (nc && publisher) {
    await ensureEventStream(nc);
    publisher.attach(jetstream(nc));
  }
  const edge = createEdge({
    cfg,
    log,
    metrics,
    services,
    events: {
      publish: (deviceId, sessionId, payload) => {
        events.push({ deviceId, payload });
        publisher?.publish(deviceId, sessionId, payload);
      },
      confirm: (timeoutMs) => publisher?.confirm(timeoutMs) ?? Promise.resolve(true),
    },
  });
  if (nc) for (const [, step] of edge.natsSteps(nc)) await step();
  const port = await edge.listen();
  return {
    url: `ws://127.0.0.1:${port}/ws`,
    http: `http://127.0.0.1:${port}`,
    events,
    server: edge.server,
    metrics,
    fleet: edge.fleet,
    devices: edge.devices,
    port,
    dap1Port: edge.dap1Port,
    async stop() {
      await edge.drain(1000);
      await publisher?.flush(2_000);
      await nc?.drain();
      closeServices(services);
    },
  };
}

/** A device-side socket that queues every message, so tests wait for messages, not for time. */
export class TestDevice {
  readonly ws: WebSocket;
  private readonly queue: (Record<string, unknown> | Buffer)[] = [];
  private waiter: (() => void) | undefined;
  closed: Promise<{ code: number; reason: string }>;
  opened: Promise<void>;

  constructor(url: string, headers: Record<string, string> = {}) {
    this.ws = new WebSocket(url, { headers });
    this.ws.on("message", (data: Buffer, binary: boolean) => {
      this.queue.push(binary ? data : JSON.parse(data.toString()));
      this.waiter?.();
    });
    this.opened = new Promise((resolve, reject) => {
      this.ws.once("open", () => resolve());
      this.ws.once("unexpected-response", (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
      this.ws.once("error", reject);
    });
    this.closed = new Promise((resolve) =>
      this.ws.once("close", (code, reason) => {
        resolve({ code, reason: reason.toString() });
        this.waiter?.();
      }),
    );
  }

  send(msg: object): void {
    this.ws.send(JSON.stringify(msg));
  }

  /**
   * The next message (text parsed, binary as Buffer); fails if the socket closes first or nothing
   * arrives within `timeoutMs` (a dropped message fails in seconds, not at the test's timeout).
   */
  async next(timeoutMs = 20_000): Promise<Record<string, unknown> | Buffer> {
    const deadline = Date.now() + timeoutMs;
    while (this.queue.length === 0) {
      if (this.ws.readyState === WebSocket.CLOSED) throw new Error("socket closed");
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no message within ${timeoutMs} ms`);
      await new Promise<void>((r) => {
        const timer = setTimeout(r, left);
        this.waiter = () => {
          clearTimeout(timer);
          r();
        };
      });
    }
    return this.queue.shift()!;
  }

  /** Skips messages until one matches (within `timeoutMs` in all); returns it. */
  async until(match: (m: Record<string, unknown>) => boolean, timeoutMs = 20_000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = await this.next(Math.max(1, deadline - Date.now()));
      if (!Buffer.isBuffer(m) && match(m)) return m;
    }
  }
}
