// Test support: the real service on a loopback port chosen by the OS, and helpers to read a
// server stream. Not a test file itself (no `.test.` in the name).
import { tts } from "@hotpin/contracts";
import { bindGrpcServer, createGrpcServer, createLogger, grpc } from "@hotpin/runtime";
import { Registry } from "prom-client";
import { readTtsConfig } from "./config";
import { createTtsApp } from "./tts-app";

export async function startTts(env: Record<string, string> = {}) {
  const cfg = readTtsConfig(env);
  const registry = new Registry();
  const app = createTtsApp(cfg, registry, createLogger("tts-test", "silent"));
  const server = createGrpcServer();
  server.addService(tts.TextToSpeechService, app.service);
  const port = await bindGrpcServer(server, "127.0.0.1", 0);
  const client = new tts.TextToSpeechClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  return {
    app,
    client,
    registry,
    cfg,
    /** Current value of a counter or gauge, summed over the label values given. */
    async metric(name: string, labels: Record<string, string> = {}): Promise<number> {
      const m = registry.getSingleMetric(name);
      if (!m) throw new Error(`no metric ${name}`);
      const { values } = await m.get();
      // A histogram's value list also holds buckets and sums: count its observations only.
      const wanted = (v: { metricName?: string }) => v.metricName === undefined || v.metricName === `${name}_count`;
      return values
        .filter((v) => wanted(v as { metricName?: string }))
        .filter((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want))
        .reduce((n, v) => n + v.value, 0);
    },
    async [Symbol.asyncDispose]() {
      client.close();
      server.forceShutdown();
      await app.slots.idle();
      await app.engine.close();
    },
  };
}

export interface Collected {
  chunks: tts.AudioChunk[];
  pcm: Buffer;
  done: tts.SynthesisDone;
}

/** Reads a Synthesize stream to its end; rejects with the gRPC error if it fails. */
export function collect(
  call: grpc.ClientReadableStream<tts.SynthesizeResponse>,
  onChunk?: (chunk: tts.AudioChunk, index: number) => void,
): Promise<Collected> {
  return new Promise((resolve, reject) => {
    const chunks: tts.AudioChunk[] = [];
    let done: tts.SynthesisDone | undefined;
    call.on("data", (msg: tts.SynthesizeResponse) => {
      if (msg.event?.$case === "chunk") {
        chunks.push(msg.event.value);
        onChunk?.(msg.event.value, chunks.length - 1);
      } else if (msg.event?.$case === "done") done = msg.event.value;
    });
    call.on("error", reject);
    call.on("end", () => {
      if (!done) reject(new Error("stream ended without SynthesisDone"));
      else resolve({ chunks, done, pcm: Buffer.concat(chunks.map((c) => c.pcm)) });
    });
  });
}

/** Root mean square of PCM16 LE samples. */
export function rms(pcm: Buffer): number {
  let sum = 0;
  const n = Math.floor(pcm.length / 2);
  for (let i = 0; i < n; i++) {
    const s = pcm.readInt16LE(i * 2);
    sum += s * s;
  }
  return n === 0 ? 0 : Math.sqrt(sum / n);
}
