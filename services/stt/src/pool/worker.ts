// Worker thread: owns the engines and runs every engine call, so the gRPC event loop never does.
import { getHeapStatistics } from "node:v8";
import { parentPort, workerData } from "node:worker_threads";
import { AudioQualityMeter } from "../audio/quality";
import { StreamingResampler } from "../audio/resampler";
import { ENGINE_SAMPLE_RATE, type Engine, type Recognizer, type Transcript } from "../engines/engine";
import { EngineCallError } from "../engines/errors";
import { GroqEngine } from "../engines/groq";
import { LocalThenGroqEngine } from "../engines/local-then-groq";
import { PocketSphinxEngine } from "../engines/pocketsphinx";
import { PocketSphinxWakeEngine } from "../engines/pocketsphinx-wake";
import { VoskEngine } from "../engines/vosk";
import type { EngineName } from "../settings";
import { type FromWorker, QUANTUM_SAMPLES, type ToWorker, type WorkerSetup } from "./protocol";

interface Pending {
  pcm: Int16Array;
  /** Bytes of the message as received, acknowledged once all of it has been fed. */
  bytes: number;
  sentAt: number;
  started: boolean;
  /** How long the message waited for its first quantum. */
  waitMs: number;
}

interface Stream {
  id: number;
  slot: number;
  recognizer: Recognizer;
  resampler: StreamingResampler;
  meter: AudioQualityMeter;
  partials: boolean;
  lastPartial: string;
  engineMs: number;
  queue: Pending[];
  ending: boolean;
  /** An engine call is running off the thread; nothing else may touch the recognizer. */
  busy: boolean;
  /** Cancelled: post "released" once the recognizer is let go of. */
  confirm: boolean;
}

const setup = workerData as WorkerSetup;
const port = parentPort;
if (!port) throw new Error("worker.js runs only as a worker thread");
const cancelled = new Int32Array(setup.cancelled);
const engines = new Map<EngineName, Engine>();
let wake: PocketSphinxWakeEngine | undefined;
const streams = new Map<number, Stream>();
/** Streams ended while an engine call of theirs still runs; released when it settles. */
const dropped = new Map<number, Stream>();
/** Streams whose recognizer is being let go of off the thread. */
const releasing = new Map<number, Stream>();
/** Streams with work to do, in turn order; each turn is one quantum. */
const turns: Stream[] = [];
/** Engine calls and releases still running off the thread; the worker ends only after them. */
const inFlight = new Set<Promise<unknown>>();
let pumping = false;
let closing = false;
const post = (msg: FromWorker) => port.postMessage(msg);

/** A stream's recognizer while the engine builds the real one (the stream is busy until then). */
const UNBUILT: Recognizer = {
  accept: () => {
    throw new Error("recognizer not built yet");
  },
  partial: () => "",
  finish: () => {
    throw new Error("recognizer not built yet");
  },
  release: () => {},
};

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
    case "pocketsphinx+groq": {
      // Built after its parts (select.ts lists it last), sharing their decoders and client.
      const local = engines.get("pocketsphinx");
      const remote = engines.get("groq");
      if (!local || !(remote instanceof GroqEngine) || !setup.groq)
        throw new Error("pocketsphinx+groq needs both engines");
      return new LocalThenGroqEngine(local, remote, setup.groq.finalDeadlineMs);
    }
  }
}

function now(): number {
  return performance.timeOrigin + performance.now();
}

function track<T>(p: Promise<T>): Promise<T> {
  inFlight.add(p);
  const done = () => inFlight.delete(p);
  p.then(done, done);
  return p;
}

/** Runs one engine call, timing it; a promise result marks the stream busy until it settles. */
function call(stream: Stream, fn: () => void | Promise<void>, then: () => void): void {
  const began = performance.now();
  const result = fn();
  if (!(result instanceof Promise)) {
    stream.engineMs += performance.now() - began;
    then();
    return;
  }
  stream.busy = true;
  track(result).then(
    () => {
      stream.engineMs += performance.now() - began;
      settle(stream, then);
    },
    (err) => settle(stream, () => fail(stream.id, err)),
  );
}

function settle(stream: Stream, then: () => void): void {
  stream.busy = false;
  if (dropped.has(stream.id)) {
    dropped.delete(stream.id);
    release(stream);
    return;
  }
  try {
    then();
  } catch (err) {
    fail(stream.id, err);
  }
  schedule(stream);
}

/** Lets go of the recognizer; a cancelled stream's slot is confirmed free only after that. */
function release(stream: Stream): void {
  const released = stream.recognizer.release();
  const done = () => {
    releasing.delete(stream.id);
    if (stream.confirm) post({ t: "released", id: stream.id });
  };
  if (!(released instanceof Promise)) {
    done();
    return;
  }
  releasing.set(stream.id, stream);
  track(released).then(done, done);
}

/**
 * Ends a stream here: no more turns, its recognizer released (after the call in flight, if
 * any). `confirm`: the pool waits for a "released" before reusing the slot (a cancel).
 */
function close(id: number, confirm = false): void {
  const stream = streams.get(id) ?? dropped.get(id) ?? releasing.get(id);
  if (!stream) {
    if (confirm) post({ t: "released", id });
    return;
  }
  stream.confirm ||= confirm;
  if (!streams.delete(id)) return; // already on its way out; "released" follows if asked
  stream.queue.length = 0;
  if (!stream.busy) release(stream);
  else {
    dropped.set(id, stream);
    stream.recognizer.interrupt?.();
  }
}

function fail(id: number, err: unknown): void {
  if (!streams.has(id)) return;
  close(id);
  const code = err instanceof EngineCallError ? err.code : 13; /* INTERNAL */
  post({ t: "error", id, code, message: err instanceof Error ? err.message : String(err) });
}

function hasWork(stream: Stream): boolean {
  return streams.get(stream.id) === stream && !stream.busy && (stream.queue.length > 0 || stream.ending);
}

function schedule(stream: Stream): void {
  if (hasWork(stream) && !turns.includes(stream)) turns.push(stream);
  if (!pumping && turns.length > 0) {
    pumping = true;
    // Between quanta the thread takes its messages (audio, cancels, new streams).
    setImmediate(pump);
  }
}

function pump(): void {
  pumping = false;
  const stream = turns.shift();
  if (!stream) return;
  if (hasWork(stream)) {
    try {
      turn(stream);
    } catch (err) {
      fail(stream.id, err);
    }
    // Back to the end of the line, so every stream with work gets a quantum in turn.
    if (hasWork(stream)) turns.push(stream);
  }
  if (turns.length > 0 && !pumping) {
    pumping = true;
    setImmediate(pump);
  }
}

/** One quantum of a stream's work: up to QUANTUM_SAMPLES fed, or its finish once all is fed. */
function turn(stream: Stream): void {
  const id = stream.id;
  if (Atomics.load(cancelled, stream.slot) === id) {
    close(id);
    return;
  }
  const head = stream.queue[0];
  if (!head) {
    finish(stream);
    return;
  }
  if (!head.started) {
    head.started = true;
    head.waitMs = now() - head.sentAt;
  }
  const pcm = head.pcm.subarray(0, QUANTUM_SAMPLES);
  head.pcm = head.pcm.subarray(pcm.length);
  const last = head.pcm.length === 0;
  if (last) stream.queue.shift();
  const ack = () => {
    if (last && head.bytes > 0) post({ t: "ack", id, bytes: head.bytes, waitMs: head.waitMs });
  };
  if (pcm.length === 0) {
    ack();
    return;
  }
  stream.meter.add(pcm);
  call(
    stream,
    () => stream.recognizer.accept(pcm),
    () => {
      postDetections(stream);
      if (stream.partials) {
        const began = performance.now();
        const text = stream.recognizer.partial();
        stream.engineMs += performance.now() - began;
        if (text && text !== stream.lastPartial) {
          stream.lastPartial = text;
          post({ t: "partial", id, text, audioMs: stream.meter.durationMs, sentAt: head.sentAt });
        }
      }
      ack();
    },
  );
}

/** A spotter's detections, each posted once (other recognizers have none). */
function postDetections(stream: Stream): void {
  for (const hit of stream.recognizer.detections?.() ?? []) post({ t: "wake", id: stream.id, ...hit });
}

function finish(stream: Stream): void {
  const id = stream.id;
  stream.ending = false;
  const rest = stream.resampler.flush();
  if (rest.length > 0) {
    stream.queue.push({ pcm: rest, bytes: 0, sentAt: now(), started: true, waitMs: 0 });
    stream.ending = true;
    return;
  }
  let transcript: Transcript | undefined;
  call(
    stream,
    () => {
      const out = stream.recognizer.finish();
      if (out instanceof Promise)
        return out.then((t) => {
          transcript = t;
        });
      transcript = out;
    },
    () => {
      postDetections(stream);
      const quality = stream.meter.figures();
      close(id);
      post({ t: "final", id, transcript: transcript as Transcript, quality, engineMs: Math.round(stream.engineMs) });
    },
  );
}

function open(msg: Extract<ToWorker, { t: "open" | "spot" }>): void {
  // Cancelled before it reached us: never build a recognizer for it.
  if (Atomics.load(cancelled, msg.slot) === msg.id) return;
  try {
    let opened: Recognizer | Promise<Recognizer>;
    let partials = false;
    if (msg.t === "spot") {
      if (!wake) throw new EngineCallError(9, "wake-word spotting is off on this replica");
      opened = wake.open();
    } else {
      const engine = engines.get(msg.engine);
      if (!engine) throw new EngineCallError(9, `engine ${msg.engine} is not available`);
      opened = engine.open(msg.language);
      partials = msg.partials && engine.partials;
    }
    const stream: Stream = {
      id: msg.id,
      slot: msg.slot,
      recognizer: opened instanceof Promise ? UNBUILT : opened,
      resampler: new StreamingResampler(msg.sampleRate, ENGINE_SAMPLE_RATE),
      meter: new AudioQualityMeter(ENGINE_SAMPLE_RATE, setup.speechRmsThreshold),
      partials,
      lastPartial: "",
      engineMs: 0,
      queue: [],
      ending: false,
      busy: false,
      confirm: false,
    };
    streams.set(msg.id, stream);
    // Built off the thread: the stream is busy until then; its audio queues up meanwhile.
    if (opened instanceof Promise)
      call(
        stream,
        () =>
          opened.then((recognizer) => {
            stream.recognizer = recognizer;
          }),
        () => {},
      );
  } catch (err) {
    const code = err instanceof EngineCallError ? err.code : 13; /* INTERNAL */
    post({ t: "error", id: msg.id, code, message: err instanceof Error ? err.message : String(err) });
  }
}

async function shutDown(): Promise<void> {
  closing = true;
  for (const id of [...streams.keys()]) close(id);
  // Ending the thread under a native call still running on the pool would abort the process.
  while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
  for (const engine of engines.values()) engine.close();
  port?.close();
}

function handle(msg: ToWorker): void {
  if (closing) return;
  switch (msg.t) {
    case "close":
      void shutDown();
      return;
    case "counts": {
      let live = 0;
      let idle = 0;
      let building = 0;
      for (const engine of [...engines.values(), ...(wake ? [wake] : [])]) {
        const c = engine.counts();
        live += c.live;
        idle += c.idle;
        building += c.building ?? 0;
      }
      post({
        t: "counts",
        request: msg.request,
        live,
        idle,
        building,
        streams: streams.size,
        heapBytes: getHeapStatistics().used_heap_size,
      });
      return;
    }
    case "open":
    case "spot":
      open(msg);
      return;
    case "cancel":
      close(msg.id, true);
      return;
  }
  const stream = streams.get(msg.id);
  if (!stream) return; // already finished, failed or cancelled
  if (Atomics.load(cancelled, stream.slot) === msg.id) {
    close(msg.id);
    return;
  }
  try {
    if (msg.t === "audio") {
      const pcm = stream.resampler.push(new Int16Array(msg.pcm));
      stream.queue.push({ pcm, bytes: msg.pcm.byteLength, sentAt: msg.sentAt, started: false, waitMs: 0 });
    } else {
      stream.ending = true;
    }
    schedule(stream);
  } catch (err) {
    fail(msg.id, err);
  }
}

try {
  for (const name of setup.engines) engines.set(name, buildEngine(name));
  if (setup.wake) wake = new PocketSphinxWakeEngine(setup.wake.args);
  port.on("message", handle);
  post({ t: "ready", engines: [...engines.keys()] });
} catch (err) {
  post({ t: "failed", message: (err as Error).message });
}
