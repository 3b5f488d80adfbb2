// Test-only: the STT service on a real gRPC socket (port 0), and a small client for it.
import { readFileSync } from "node:fs";
import { stt } from "@hotpin/contracts";
import { bindGrpcServer, createGrpcServer, createLogger, grpc, readConfig } from "@hotpin/runtime";
import { Registry } from "prom-client";
import { sttSettings } from "../settings";
import { type SttService, startSttService } from "../stt-service";

export const TEST_DATA = "/usr/share/pocketsphinx/test/data";

export function goforward(): Buffer {
  return readFileSync(`${TEST_DATA}/goforward.raw`);
}

export interface TestStt extends AsyncDisposable {
  service: SttService;
  client: stt.SpeechToTextClient;
  registry: Registry;
}

/** Starts the service with HOTPIN_STT_* overrides, the same wiring main.ts uses minus the runtime. */
export async function startTestStt(env: Record<string, string> = {}): Promise<TestStt> {
  const cfg = readConfig(sttSettings, { HOTPIN_STT_PORT: "0", HOTPIN_STT_METRICS_PORT: "0", ...env });
  const registry = new Registry();
  const service = await startSttService(cfg, createLogger("stt-test", "warn"), registry);
  const server = createGrpcServer();
  server.addService(stt.SpeechToTextService, service.implementation);
  const port = await bindGrpcServer(server, "127.0.0.1", 0);
  const client = new stt.SpeechToTextClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  return {
    service,
    client,
    registry,
    async [Symbol.asyncDispose]() {
      client.close();
      server.forceShutdown();
      await service.close();
    },
  };
}

export interface StreamOutcome {
  partials: stt.PartialResult[];
  final?: stt.FinalResult;
  error?: grpc.ServiceError;
}

/** Streams audio in chunks as fast as the call takes it, then half-closes. */
export function recognize(
  client: stt.SpeechToTextClient,
  audio: Buffer,
  config: Partial<stt.RecognitionConfig> = {},
  chunkBytes = 4096,
): Promise<StreamOutcome> {
  const call = client.recognize();
  const outcome = collect(call);
  call.write({ request: { $case: "config", value: { ...baseConfig(), partialResults: true, ...config } } });
  for (let at = 0; at < audio.length; at += chunkBytes) {
    call.write({ request: { $case: "audio", value: audio.subarray(at, at + chunkBytes) } });
  }
  call.end();
  return outcome;
}

/** Everything a call answers until its status. */
export function collect(call: grpc.ClientDuplexStream<stt.RecognizeRequest, stt.RecognizeResponse>) {
  return new Promise<StreamOutcome>((resolve) => {
    const out: StreamOutcome = { partials: [] };
    call.on("data", (res: stt.RecognizeResponse) => {
      if (res.result?.$case === "partial") out.partials.push(res.result.value);
      else if (res.result?.$case === "final") out.final = res.result.value;
    });
    call.on("error", (err: grpc.ServiceError) => {
      out.error = err;
      resolve(out);
    });
    call.on("end", () => resolve(out));
  });
}

export interface SpotOutcome {
  detections: stt.WakeDetection[];
  error?: grpc.ServiceError;
}

/** Streams audio into a Spot call in 100 ms chunks, half-closes, and collects what comes back. */
export function spot(client: stt.SpeechToTextClient, pcm: Buffer, rate = 16_000): Promise<SpotOutcome> {
  const call = client.spot();
  const outcome = new Promise<SpotOutcome>((resolve) => {
    const out: SpotOutcome = { detections: [] };
    call.on("data", (res: stt.SpotResponse) => res.detection && out.detections.push(res.detection));
    call.on("error", (err: grpc.ServiceError) => resolve({ ...out, error: err }));
    call.on("end", () => resolve(out));
  });
  call.write({ request: { $case: "config", value: { sampleRateHz: rate, deviceId: "d1", sessionId: "s1" } } });
  const chunk = Math.max(2, Math.round(rate / 10) * 2);
  for (let at = 0; at < pcm.length; at += chunk)
    call.write({ request: { $case: "audio", value: pcm.subarray(at, at + chunk) } });
  call.end();
  return outcome;
}

export function baseConfig(): stt.RecognitionConfig {
  return { sampleRateHz: 16_000, language: "", partialResults: false, engine: "", deviceId: "d1", sessionId: "s1" };
}

/** PCM16 mono of a sine tone. */
export function tone(hz: number, ms: number, amplitude: number, rate = 16_000): Int16Array {
  const n = Math.round((rate * ms) / 1000);
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.round(amplitude * Math.sin((2 * Math.PI * hz * i) / rate));
  return out;
}

/** Polls an async condition until it holds (bounded), for state that settles on another thread. */
export async function waitFor<T>(probe: () => Promise<T | undefined>, tries = 2_000): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error("condition never held");
}
