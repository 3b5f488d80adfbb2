import { join } from "node:path";
import { freePort } from "@hotpin/mesh";
import { type BenchChild, spawnNode, waitHttpOk } from "./child-process";

export const BENCH_TOKEN = "bench-device-token";

export interface EdgeProcess {
  child: BenchChild;
  /** ws://127.0.0.1:PORT (the simulator adds /ws). */
  url: string;
  metricsUrl: string;
  stop(): Promise<void>;
}

export interface EdgeProcessOptions {
  natsUrl: string;
  /** host:port of each gRPC dependency. */
  stt: string;
  llm: string;
  tts: string;
  storage: string;
  env?: Record<string, string>;
}

/** services/edge-ws, from dist/bench. */
export const edgeDir = join(__dirname, "..", "..");

/** The edge as production runs it (`npm start`): its own Node process with telemetry preloaded. */
export async function startEdgeProcess(opts: EdgeProcessOptions): Promise<EdgeProcess> {
  const port = await freePort();
  const metricsPort = await freePort();
  const child = spawnNode(["--enable-source-maps", "--require", "@hotpin/runtime/register", "dist/main.js"], {
    cwd: edgeDir,
    env: {
      ...process.env,
      HOTPIN_EDGE_HOST: "127.0.0.1",
      HOTPIN_EDGE_PORT: String(port),
      HOTPIN_EDGE_METRICS_PORT: String(metricsPort),
      HOTPIN_NATS_URL: opts.natsUrl,
      HOTPIN_STT_ADDRESS: opts.stt,
      HOTPIN_LLM_ADDRESS: opts.llm,
      HOTPIN_TTS_ADDRESS: opts.tts,
      HOTPIN_STORAGE_ADDRESS: opts.storage,
      HOTPIN_DEVICE_TOKENS: BENCH_TOKEN,
      HOTPIN_EDGE_PRINT_TOKEN: "false",
      HOTPIN_LOG_LEVEL: "error",
      OTEL_SERVICE_NAME: "hotpin-edge-bench",
      ...opts.env,
    },
  });
  const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
  // Ready: listening, and every dependency (grpc.health.v1) answering.
  await waitHttpOk(`http://127.0.0.1:${metricsPort}/readyz`, child);
  return { child, url: `ws://127.0.0.1:${port}`, metricsUrl, stop: () => child.stop("SIGTERM", 15_000) };
}
