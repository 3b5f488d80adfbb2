import type { stt } from "@hotpin/contracts";
import { Attr, grpc, grpcError, recordFailure, tracer } from "@hotpin/runtime";
import type { Span } from "@opentelemetry/api";
import type { AudioQualityFigures } from "./audio/quality";
import type { Transcript, WakeHit } from "./engines/engine";
import type { SttMetrics } from "./metrics";
import type { PooledStream, SlotKind, WorkerPool } from "./pool/worker-pool";
import type { EngineName, SttConfig } from "./settings";

export type SessionLimits = Pick<
  SttConfig,
  | "maxUtteranceMs"
  | "idleTimeoutMs"
  | "maxChunkBytes"
  | "maxInflightBytes"
  | "minSampleRateHz"
  | "maxSampleRateHz"
  | "wakeMaxStreamMs"
>;

export interface SessionDeps {
  pool: WorkerPool;
  metrics: SttMetrics;
  limits: SessionLimits;
  /** The engine when a request names none; undefined when none can run. */
  preferred: EngineName | undefined;
  /** Why engines that cannot run cannot, for the caller's error message. */
  unavailable: Partial<Record<EngineName, string>>;
  /** Why wake-word spotting is off on this replica; undefined when it is on. */
  wakeOff?: string;
}

/** How a session talks back: a bidi stream writes partials, a unary call only wants the final. */
export interface SessionOutput {
  partial(result: stt.PartialResult): void;
  final(result: stt.FinalResult): void;
  /** A spotting stream's detection. */
  detection?(result: stt.WakeDetection): void;
  fail(err: grpc.ServiceError): void;
  /** Stop/start reading input: backpressure when the worker falls behind. */
  pause(): void;
  resume(): void;
}

const statusName = (code: number) => grpc.status[code] ?? String(code);

/**
 * One utterance from config to final, or one spotting stream from config to its end:
 * validation and limits, its worker slot, metrics and span. Whatever way it ends (final,
 * error, cancel, idle), the slot and recognizer are freed.
 */
export class RecognizeSession {
  private readonly slot: PooledStream | undefined;
  /** The engine of a recognition stream, or "wake" for spotting, once configured. */
  private engine: EngineName | "wake" | undefined;
  private span: Span | undefined;
  private sampleRate = 16_000;
  private inputBytes = 0;
  private inflight = 0;
  private paused = false;
  private ended = false;
  private closed = false;
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly deps: SessionDeps,
    private readonly out: SessionOutput,
    private readonly kind: SlotKind = "recognize",
  ) {
    if (kind === "spot" && deps.pool.wakeCapacity === 0) {
      this.fail(grpc.status.FAILED_PRECONDITION, `wake-word spotting is off on this replica: ${deps.wakeOff}`);
      return;
    }
    this.slot = deps.pool.acquire(
      {
        onAck: (bytes, waitMs) => this.onAck(bytes, waitMs),
        onPartial: (text, audioMs, sentAt) => this.onPartial(text, audioMs, sentAt),
        onFinal: (t, q, ms) => this.onFinal(t, q, ms),
        onError: (code, message) => this.fail(code, message),
        onWake: (hit) => this.onWake(hit),
      },
      kind,
    );
    if (!this.slot) {
      (kind === "spot" ? deps.metrics.wakeRefused : deps.metrics.refused).inc();
      const what = kind === "spot" ? "wake-word spotting slot is taken" : "STT worker is busy";
      this.fail(grpc.status.RESOURCE_EXHAUSTED, `every ${what}; try another replica`);
      return;
    }
    this.touch();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  configure(config: stt.RecognitionConfig): void {
    const rate = this.checkConfig(config.sampleRateHz);
    if (rate === undefined) return;
    if (this.kind === "spot") {
      this.fail(grpc.status.INVALID_ARGUMENT, "a spotting stream takes a SpotConfig");
      return;
    }
    const { pool } = this.deps;
    const requested = (config.engine || this.deps.preferred) as EngineName | undefined;
    if (!requested) {
      this.fail(grpc.status.FAILED_PRECONDITION, "no STT engine can run on this replica");
      return;
    }
    if (!pool.engines.includes(requested)) {
      const why = this.deps.unavailable[requested] ?? "unknown engine";
      this.fail(grpc.status.FAILED_PRECONDITION, `engine ${requested} unavailable: ${why}`);
      return;
    }
    this.engine = requested;
    this.sampleRate = rate;
    this.span = tracer().startSpan("stt.recognize", {
      attributes: {
        [Attr.engine]: requested,
        [Attr.deviceId]: config.deviceId,
        [Attr.sessionId]: config.sessionId,
      },
    });
    this.deps.metrics.activeStreams.inc({ engine: requested });
    this.slot?.open(requested, rate, config.language, config.partialResults);
    this.touch();
  }

  /** The config of a spotting stream: the phrases are the service's own. */
  configureSpot(config: stt.SpotConfig): void {
    const rate = this.checkConfig(config.sampleRateHz);
    if (rate === undefined) return;
    if (this.kind !== "spot") {
      this.fail(grpc.status.INVALID_ARGUMENT, "a recognition stream takes a RecognitionConfig");
      return;
    }
    this.engine = "wake";
    this.sampleRate = rate;
    this.span = tracer().startSpan("stt.spot", {
      attributes: { [Attr.deviceId]: config.deviceId, [Attr.sessionId]: config.sessionId },
    });
    this.deps.metrics.wakeActiveStreams.inc();
    this.slot?.spot(rate);
    this.touch();
  }

  /** The sample rate of a first, valid config; undefined (and the session failed) otherwise. */
  private checkConfig(sampleRateHz: number): number | undefined {
    if (this.closed) return undefined;
    if (this.engine) {
      this.fail(grpc.status.INVALID_ARGUMENT, "config sent twice");
      return undefined;
    }
    const { limits } = this.deps;
    const rate = sampleRateHz || 16_000;
    if (rate < limits.minSampleRateHz || rate > limits.maxSampleRateHz) {
      this.fail(
        grpc.status.INVALID_ARGUMENT,
        `sample_rate_hz ${rate} outside ${limits.minSampleRateHz}..${limits.maxSampleRateHz}`,
      );
      return undefined;
    }
    return rate;
  }

  audio(chunk: Buffer): void {
    if (this.closed) return;
    const { limits } = this.deps;
    if (!this.engine) {
      this.fail(grpc.status.INVALID_ARGUMENT, "config must come before audio");
      return;
    }
    if (this.ended) return;
    if (chunk.length % 2 !== 0) {
      this.fail(grpc.status.INVALID_ARGUMENT, "audio chunk has an odd byte count");
      return;
    }
    if (chunk.length > limits.maxChunkBytes) {
      this.fail(grpc.status.INVALID_ARGUMENT, `audio chunk larger than ${limits.maxChunkBytes} bytes`);
      return;
    }
    this.inputBytes += chunk.length;
    const maxMs = this.kind === "spot" ? limits.wakeMaxStreamMs : limits.maxUtteranceMs;
    if (this.inputMs() > maxMs) {
      this.fail(
        grpc.status.OUT_OF_RANGE,
        `${this.kind === "spot" ? "spotting stream" : "utterance"} longer than ${maxMs} ms`,
      );
      return;
    }
    if (chunk.length === 0) {
      this.touch();
      return;
    }
    this.inflight += chunk.length;
    this.slot?.audio(chunk);
    if (this.inflight > limits.maxInflightBytes && !this.paused) {
      this.paused = true;
      this.out.pause();
    }
    this.touch();
  }

  /** The client half-closed: the utterance is complete. */
  end(): void {
    if (this.closed || this.ended) return;
    if (!this.engine) {
      this.fail(grpc.status.INVALID_ARGUMENT, "stream ended before a config");
      return;
    }
    this.ended = true;
    clearTimeout(this.idleTimer);
    this.slot?.end();
  }

  invalid(message: string): void {
    this.fail(grpc.status.INVALID_ARGUMENT, message);
  }

  /** The client went away or its deadline passed: free everything now. */
  cancel(): void {
    if (this.closed) return;
    this.close("cancelled");
  }

  private inputMs(): number {
    return (this.inputBytes / 2 / this.sampleRate) * 1000;
  }

  private touch(): void {
    if (this.closed || this.ended) return;
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(
      () => this.fail(grpc.status.DEADLINE_EXCEEDED, `no message for ${this.deps.limits.idleTimeoutMs} ms`),
      this.deps.limits.idleTimeoutMs,
    );
    return;
  }

  private onAck(bytes: number, waitMs: number): void {
    this.inflight -= bytes;
    this.deps.metrics.queueWait.observe(Math.max(0, waitMs) / 1000);
    if (this.paused && this.inflight <= this.deps.limits.maxInflightBytes / 2) {
      this.paused = false;
      this.out.resume();
    }
  }

  private onPartial(text: string, audioMs: number, sentAt: number): void {
    if (this.closed) return;
    const now = performance.timeOrigin + performance.now();
    this.deps.metrics.partialLatency.observe({ engine: this.engine }, Math.max(0, now - sentAt) / 1000);
    this.out.partial({ text, audioMs });
  }

  private onWake(hit: WakeHit): void {
    if (this.closed) return;
    this.deps.metrics.wakeDetections.inc();
    this.deps.metrics.wakeConfidence.observe(hit.confidence);
    this.span?.addEvent("wake_word", { "hotpin.stt.wake.confidence": hit.confidence });
    this.out.detection?.(hit);
  }

  private onFinal(transcript: Transcript, quality: AudioQualityFigures, engineMs: number): void {
    if (this.closed) return;
    const { metrics } = this.deps;
    if (this.engine === "wake") {
      // A spotting stream's end: its engine time per second of audio is its CPU share.
      if (quality.durationMs > 0) metrics.wakeRealTimeFactor.observe(engineMs / quality.durationMs);
      metrics.wakeAudioSeconds.inc(quality.durationMs / 1000);
      this.span?.setAttribute(Attr.audioMs, quality.durationMs);
      this.out.final({ text: "", words: [], confidence: 0, quality, engine: "wake", processingMs: engineMs });
      this.close("final");
      return;
    }
    const engine = this.engine as EngineName;
    if (quality.durationMs > 0) {
      metrics.realTimeFactor.observe({ engine }, engineMs / quality.durationMs);
      metrics.audioSeconds.inc({ engine }, quality.durationMs / 1000);
    }
    this.span?.setAttribute(Attr.audioMs, quality.durationMs);
    this.span?.setAttribute("hotpin.stt.words", transcript.words.length);
    this.span?.setAttribute("hotpin.stt.confidence", transcript.confidence);
    if (transcript.engine) {
      metrics.finalSources.inc({ source: transcript.engine, reason: transcript.fallback ?? "ok" });
      this.span?.setAttribute("hotpin.stt.final_engine", transcript.engine);
    }
    this.out.final({
      text: transcript.text,
      words: transcript.words,
      confidence: transcript.confidence,
      quality,
      // A combined engine's final names the engine that gave it.
      engine: transcript.engine ?? engine,
      processingMs: engineMs,
    });
    this.close("final");
  }

  private fail(code: number, message: string): void {
    if (this.closed) return;
    const err = grpcError(code, message);
    this.deps.metrics.errors.inc({ code: statusName(code) });
    if (this.span) recordFailure(this.span, err);
    // Refusals never opened a stream; everything else counts as an ended stream.
    this.close("error");
    this.out.fail(err);
  }

  private close(outcome: "final" | "cancelled" | "error"): void {
    this.closed = true;
    clearTimeout(this.idleTimer);
    this.slot?.cancel();
    if (this.engine === "wake") {
      this.deps.metrics.wakeActiveStreams.dec();
      this.deps.metrics.wakeStreams.inc({ outcome });
    } else if (this.engine) {
      this.deps.metrics.activeStreams.dec({ engine: this.engine });
      this.deps.metrics.streams.inc({ engine: this.engine, outcome });
    }
    this.span?.end();
  }
}
