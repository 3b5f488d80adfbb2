// Worker thread: owns the engines and runs every engine call, so the gRPC event loop never does.
import { parentPort, workerData } from "node:worker_threads";
import { AudioQualityMeter } from "../audio/quality";
import { StreamingResampler } from "../audio/resampler";
import { ENGINE_SAMPLE_RATE, type Engine, type Recognizer } from "../engines/engine";
import { EngineCallError } from "../engines/errors";
import { GroqEngine } from "../engines/groq";
import { PocketSphinxEngine } from "../engines/pocketsphinx";
import { VoskEngine } from "../engines/vosk";
import type { EngineName } from "../settings";
import type { FromWorker, ToWorker, WorkerSetup } from "./protocol";

interface Stream {
  slot: number;
  recognizer: Recognizer;
  resampler: StreamingResampler;
  meter: AudioQualityMeter;
  partials: boolean;
  lastPartial: string;
  engineMs: number;
}

const setup = workerData as WorkerSetup;
const port = parentPort;
if (!port) throw new Error("worker.js runs only as a worker thread");
const cancelled = new Int32Array(setup.cancelled);
const engines = new Map<EngineName, Engine>();
const streams = new Map<number, Stream>();
const post = (msg: FromWorker) => port.postMessage(msg);

function buildEngine(name: EngineName): Engine {
  switch (name) {
    case "pocketsphinx": {
      const engine = new PocketSphinxEngine(setup.pocketsphinxModelDir, setup.streamsPerWorker);
      engine.warm(setup.warmRecognizers);
      return engine;
    }
    case "vosk":
      if (setup.voskModelAddress === undefined) throw new Error("vosk has no model");
      return new VoskEngine(setup.voskModelAddress, setup.voskLibPath);
    case "groq":
      if (!setup.groq) throw new Error("groq has no settings");
      return new GroqEngine({ ...setup.groq, maxUtteranceMs: setup.maxUtteranceMs });
  }
}

function isCancelled(id: number, stream: Stream): boolean {
  return Atomics.load(cancelled, stream.slot) === id;
}

function now(): number {
  return performance.timeOrigin + performance.now();
}

function timed<T>(stream: Stream, fn: () => T): T {
  const began = performance.now();
  try {
    return fn();
  } finally {
    stream.engineMs += performance.now() - began;
  }
}

function close(id: number): void {
  const stream = streams.get(id);
  if (!stream) return;
  streams.delete(id);
  stream.recognizer.release();
}

function fail(id: number, err: unknown): void {
  close(id);
  const code = err instanceof EngineCallError ? err.code : 13; /* INTERNAL */
  post({ t: "error", id, code, message: err instanceof Error ? err.message : String(err) });
}

function feed(id: number, stream: Stream, pcm: Int16Array, sentAt: number): void {
  if (pcm.length === 0) return;
  stream.meter.add(pcm);
  timed(stream, () => stream.recognizer.accept(pcm));
  if (!stream.partials) return;
  const text = timed(stream, () => stream.recognizer.partial());
  if (text && text !== stream.lastPartial) {
    stream.lastPartial = text;
    post({ t: "partial", id, text, audioMs: stream.meter.durationMs, sentAt });
  }
}

async function finish(id: number, stream: Stream): Promise<void> {
  feed(id, stream, stream.resampler.flush(), now());
  const began = performance.now();
  const transcript = await stream.recognizer.finish();
  stream.engineMs += performance.now() - began;
  if (!streams.has(id)) return; // cancelled while an engine call was in flight
  const quality = stream.meter.figures();
  close(id);
  post({ t: "final", id, transcript, quality, engineMs: Math.round(stream.engineMs) });
}

function handle(msg: ToWorker): void {
  if (msg.t === "close") {
    for (const id of [...streams.keys()]) close(id);
    for (const engine of engines.values()) engine.close();
    port?.close();
    return;
  }
  if (msg.t === "counts") {
    let live = 0;
    let idle = 0;
    for (const engine of engines.values()) {
      const c = engine.counts();
      live += c.live;
      idle += c.idle;
    }
    post({ t: "counts", request: msg.request, live, idle, streams: streams.size });
    return;
  }
  if (msg.t === "open") {
    const engine = engines.get(msg.engine);
    // Cancelled before it reached us: never build a recognizer for it.
    if (Atomics.load(cancelled, msg.slot) === msg.id) return;
    try {
      if (!engine) throw new EngineCallError(9, `engine ${msg.engine} is not available`);
      streams.set(msg.id, {
        slot: msg.slot,
        recognizer: engine.open(msg.language),
        resampler: new StreamingResampler(msg.sampleRate, ENGINE_SAMPLE_RATE),
        meter: new AudioQualityMeter(ENGINE_SAMPLE_RATE, setup.speechRmsThreshold),
        partials: msg.partials && engine.partials,
        lastPartial: "",
        engineMs: 0,
      });
    } catch (err) {
      fail(msg.id, err);
    }
    return;
  }
  if (msg.t === "cancel") {
    close(msg.id);
    post({ t: "released", id: msg.id });
    return;
  }
  const stream = streams.get(msg.id);
  if (!stream) return; // already finished, failed or cancelled
  if (isCancelled(msg.id, stream)) {
    close(msg.id);
    return;
  }
  try {
    if (msg.t === "audio") {
      const waitMs = now() - msg.sentAt;
      feed(msg.id, stream, stream.resampler.push(new Int16Array(msg.pcm)), msg.sentAt);
      post({ t: "ack", id: msg.id, bytes: msg.pcm.byteLength, waitMs });
    } else {
      finish(msg.id, stream).catch((err) => fail(msg.id, err));
    }
  } catch (err) {
    fail(msg.id, err);
  }
}

try {
  for (const name of setup.engines) engines.set(name, buildEngine(name));
  port.on("message", handle);
  post({ t: "ready", engines: [...engines.keys()] });
} catch (err) {
  post({ t: "failed", message: (err as Error).message });
}
