import { join } from "node:path";
import { Worker } from "node:worker_threads";
import type { Logger } from "@hotpin/runtime";
import type { AudioQualityFigures } from "../audio/quality";
import type { Transcript, WakeHit } from "../engines/engine";
import type { EngineName } from "../settings";
import type { FromWorker, ToWorker, WorkerSetup } from "./protocol";

/** What a stream hears back from its worker. */
export interface StreamEvents {
  onAck(bytes: number, waitMs: number): void;
  onPartial(text: string, audioMs: number, sentAt: number): void;
  onFinal(transcript: Transcript, quality: AudioQualityFigures, engineMs: number): void;
  onError(code: number, message: string): void;
  /** A spotting stream heard a wake phrase. */
  onWake?(hit: WakeHit): void;
}

/** Recognition streams and spotting streams hold slots of their own on each worker. */
export type SlotKind = "recognize" | "spot";

/** A stream's place on one worker; every call after open goes to that same worker. */
export interface PooledStream {
  readonly id: number;
  open(engine: EngineName, sampleRate: number, language: string, partials: boolean): void;
  /** Starts a spotting stream (on a "spot" slot). */
  spot(sampleRate: number): void;
  /** Copies the chunk and hands it to the worker. */
  audio(chunk: Uint8Array): void;
  end(): void;
  /** Frees the slot and the recognizer at once; later calls do nothing. */
  cancel(): void;
}

interface Member {
  worker: Worker;
  ready: boolean;
  engines: EngineName[];
  slots: (PooledStreamImpl | undefined)[];
  cancelled: Int32Array;
  exited: boolean;
  error?: string;
}

export type PoolSetup = Omit<WorkerSetup, "cancelled">;

/**
 * What the workers hold: recognizers lent out (live), kept for reuse (idle) and being built for a
 * stream (building), streams, JS heap bytes.
 */
export interface WorkerCounts {
  live: number;
  idle: number;
  building: number;
  streams: number;
  heapBytes: number;
}

/**
 * Worker threads that run the engines. Each stream takes a slot on the least busy worker for
 * its whole life; with every slot taken `acquire` returns undefined and the caller refuses.
 */
export class WorkerPool {
  private readonly members: Member[] = [];
  private readonly streams = new Map<number, PooledStreamImpl>();
  private nextId = 1;
  private nextRequest = 1;
  private readonly countRequests = new Map<number, (c: WorkerCounts) => void>();
  private closing = false;
  /** Cancelled streams whose slot waits for the worker to let go of the recognizer. */
  private readonly releasing = new Map<number, { member: Member; free: () => void }>();

  private constructor(
    private readonly setup: PoolSetup,
    private readonly log: Logger,
  ) {}

  /** Starts `size` workers and waits until each has built its engines; rejects when one cannot. */
  static async start(size: number, setup: PoolSetup, log: Logger): Promise<WorkerPool> {
    const pool = new WorkerPool(setup, log);
    try {
      await Promise.all(Array.from({ length: size }, (_, i) => pool.spawn(i)));
    } catch (err) {
      await pool.close();
      throw err;
    }
    return pool;
  }

  get capacity(): number {
    return this.members.length * this.setup.streamsPerWorker;
  }

  /** Spotting streams the pool can hold at once; 0 when spotting is off. */
  get wakeCapacity(): number {
    return this.setup.wake ? this.members.length * this.setup.wakeStreamsPerWorker : 0;
  }

  /** Streams holding a slot, including cancelled ones the worker has not let go of yet. */
  get active(): number {
    return this.streams.size + this.releasing.size;
  }

  /** Engines every worker has; a stream may ask for any of these. */
  get engines(): EngineName[] {
    return this.setup.engines;
  }

  /** A slot for a new stream, or undefined when the pool is full (or shutting down). */
  acquire(events: StreamEvents, kind: SlotKind = "recognize"): PooledStream | undefined {
    if (this.closing) return undefined;
    const [from, to] = this.slotRange(kind);
    let best: Member | undefined;
    let bestFree = 0;
    for (const m of this.members) {
      if (!m.ready) continue;
      let free = 0;
      for (let i = from; i < to; i++) if (m.slots[i] === undefined) free++;
      if (free > bestFree) {
        best = m;
        bestFree = free;
      }
    }
    if (!best) return undefined;
    let slot = from;
    while (best.slots[slot] !== undefined) slot++;
    const stream = new PooledStreamImpl(this.nextId++, best, slot, events, (s, c) => this.forget(s, c));
    best.slots[slot] = stream;
    this.streams.set(stream.id, stream);
    return stream;
  }

  /** The slot indexes of one kind on every worker: recognition first, then spotting. */
  private slotRange(kind: SlotKind): [number, number] {
    const recognize = this.setup.streamsPerWorker;
    if (kind === "recognize") return [0, recognize];
    return [recognize, this.setup.wake ? recognize + this.setup.wakeStreamsPerWorker : recognize];
  }

  /** Problems that make the pool unable to serve: workers down or never ready. */
  problems(): string[] {
    const out: string[] = [];
    this.members.forEach((m, i) => {
      if (!m.ready) out.push(`worker ${i} ${m.error ? `failed: ${m.error}` : "not ready"}`);
    });
    return out;
  }

  /**
   * Recognizers in use and prepared, streams held and JS heap, summed over the running workers.
   * A worker that does not answer within `timeoutMs` (busy in a long call, or dying) counts as
   * zero, so a metrics scrape never waits on it for long.
   */
  async counts(timeoutMs = 2_000): Promise<WorkerCounts> {
    const zero: WorkerCounts = { live: 0, idle: 0, building: 0, streams: 0, heapBytes: 0 };
    const all = await Promise.all(
      this.members
        .filter((m) => !m.exited)
        .map(
          (m) =>
            new Promise<WorkerCounts>((resolve) => {
              const request = this.nextRequest++;
              const timer = setTimeout(() => {
                this.countRequests.delete(request);
                resolve(zero);
              }, timeoutMs);
              this.countRequests.set(request, (c) => {
                clearTimeout(timer);
                resolve(c);
              });
              m.worker.postMessage({ t: "counts", request } satisfies ToWorker);
            }),
        ),
    );
    return all.reduce(
      (a, b) => ({
        live: a.live + b.live,
        idle: a.idle + b.idle,
        building: a.building + b.building,
        streams: a.streams + b.streams,
        heapBytes: a.heapBytes + b.heapBytes,
      }),
      zero,
    );
  }

  /** Cancels what is left and stops the workers. */
  async close(): Promise<void> {
    this.closing = true;
    for (const s of [...this.streams.values()]) s.fail(14, "service shutting down");
    // A worker that already died (awaiting its restart) would never answer "close".
    await Promise.all(this.members.filter((m) => !m.exited).map((m) => stopWorker(m.worker)));
  }

  private forget(stream: PooledStreamImpl, cancelled: boolean): void {
    this.streams.delete(stream.id);
    const m = stream.member;
    const free = () => {
      if (m.slots[stream.slot] === stream) m.slots[stream.slot] = undefined;
    };
    // A cancelled stream keeps its slot until the worker confirms, so a worker never holds more
    // recognizers than it has slots however fast clients cancel.
    if (cancelled && m.ready && !this.closing) this.releasing.set(stream.id, { member: m, free });
    else free();
  }

  private spawn(index: number): Promise<void> {
    const slotCount = this.setup.streamsPerWorker + (this.setup.wake ? this.setup.wakeStreamsPerWorker : 0);
    const cancelled = new SharedArrayBuffer(4 * slotCount);
    const worker = new Worker(join(__dirname, "worker.js"), {
      workerData: { ...this.setup, cancelled } satisfies WorkerSetup,
    });
    const member: Member = {
      worker,
      ready: false,
      engines: [],
      slots: new Array(slotCount).fill(undefined),
      cancelled: new Int32Array(cancelled),
      exited: false,
    };
    this.members[index] = member;
    return new Promise((resolve, reject) => {
      worker.on("message", (msg: FromWorker) => {
        if (msg.t === "ready") {
          member.ready = true;
          member.engines = msg.engines;
          resolve();
        } else if (msg.t === "failed") {
          member.error = msg.message;
          reject(new Error(`stt worker could not start: ${msg.message}`));
        } else if (msg.t === "counts") {
          this.countRequests.get(msg.request)?.(msg);
          this.countRequests.delete(msg.request);
        } else if (msg.t === "released") {
          this.releasing.get(msg.id)?.free();
          this.releasing.delete(msg.id);
        } else {
          this.streams.get(msg.id)?.deliver(msg);
        }
      });
      worker.on("error", (err) => {
        member.error = err.message;
        this.log.error({ err, worker: index }, "stt worker crashed");
        reject(err);
      });
      worker.on("exit", (code) => {
        member.ready = false;
        member.exited = true;
        for (const s of member.slots) s?.fail(14, "stt worker stopped");
        member.slots.fill(undefined);
        // A dead worker never confirms the releases it owed; its slots are free already.
        for (const [id, r] of this.releasing) if (r.member === member) this.releasing.delete(id);
        if (this.closing) return;
        member.error ??= `exited with code ${code}`;
        this.log.error({ worker: index, code }, "stt worker exited; starting a new one");
        // A crashed worker is replaced so capacity comes back; streams it held have failed.
        // The pause keeps a worker that cannot start from spinning.
        setTimeout(() => {
          if (!this.closing)
            this.spawn(index).catch((err) => this.log.error({ err, worker: index }, "stt worker restart failed"));
        }, 1_000).unref();
      });
    });
  }
}

/**
 * Asks a worker to finish its current engine call and end; terminate() only as a last resort,
 * because stopping a thread inside a native call aborts the whole process.
 */
function stopWorker(worker: Worker, graceMs = 10_000): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => void worker.terminate().then(() => resolve()), graceMs);
    worker.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    worker.postMessage({ t: "close" } satisfies ToWorker);
  });
}

class PooledStreamImpl implements PooledStream {
  private done = false;

  constructor(
    readonly id: number,
    readonly member: Member,
    readonly slot: number,
    private readonly events: StreamEvents,
    private readonly onDone: (s: PooledStreamImpl, cancelled: boolean) => void,
  ) {}

  open(engine: EngineName, sampleRate: number, language: string, partials: boolean): void {
    this.send({ t: "open", id: this.id, slot: this.slot, engine, sampleRate, language, partials });
  }

  spot(sampleRate: number): void {
    this.send({ t: "spot", id: this.id, slot: this.slot, sampleRate });
  }

  audio(chunk: Uint8Array): void {
    if (this.done) return;
    // A copy the worker can own: gRPC's Buffers may be views into a shared pool.
    const copy = new Uint8Array(chunk.byteLength);
    copy.set(chunk);
    const pcm = copy.buffer;
    this.member.worker.postMessage(
      { t: "audio", id: this.id, pcm, sentAt: performance.timeOrigin + performance.now() } satisfies ToWorker,
      [pcm],
    );
  }

  end(): void {
    this.send({ t: "end", id: this.id });
  }

  cancel(): void {
    if (this.done) return;
    Atomics.store(this.member.cancelled, this.slot, this.id);
    this.send({ t: "cancel", id: this.id });
    this.finishWith(true);
  }

  /** Ends the stream from this side with an error (worker gone, shutdown). */
  fail(code: number, message: string): void {
    if (this.done) return;
    this.cancel();
    this.events.onError(code, message);
  }

  deliver(msg: FromWorker): void {
    if (this.done) return;
    switch (msg.t) {
      case "ack":
        this.events.onAck(msg.bytes, msg.waitMs);
        break;
      case "partial":
        this.events.onPartial(msg.text, msg.audioMs, msg.sentAt);
        break;
      case "wake":
        this.events.onWake?.({ phrase: msg.phrase, confidence: msg.confidence, audioMs: msg.audioMs });
        break;
      case "final":
        this.finishWith();
        this.events.onFinal(msg.transcript, msg.quality, msg.engineMs);
        break;
      case "error":
        this.finishWith();
        this.events.onError(msg.code, msg.message);
        break;
    }
  }

  private send(msg: ToWorker): void {
    if (!this.done) this.member.worker.postMessage(msg);
  }

  private finishWith(cancelled = false): void {
    this.done = true;
    this.onDone(this, cancelled);
  }
}
