import { latencyBuckets } from "@hotpin/runtime";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { WorkerCounts } from "./pool/worker-pool";

/** The STT service's metrics on the process registry. Labels never carry user content. */
export class SttMetrics {
  readonly activeStreams: Gauge<"engine">;
  readonly streams: Counter<"engine" | "outcome">;
  readonly errors: Counter<"code">;
  readonly realTimeFactor: Histogram<"engine">;
  readonly queueWait: Histogram;
  readonly partialLatency: Histogram<"engine">;
  readonly audioSeconds: Counter<"engine">;
  readonly refused: Counter;
  readonly slots: Gauge;
  readonly finalSources: Counter<"source" | "reason">;
  readonly recognizers: Gauge<"state">;
  readonly workerHeap: Gauge;
  readonly wakeActiveStreams: Gauge;
  readonly wakeStreams: Counter<"outcome">;
  readonly wakeRefused: Counter;
  readonly wakeDetections: Counter;
  readonly wakeConfidence: Histogram;
  readonly wakeRealTimeFactor: Histogram;
  readonly wakeAudioSeconds: Counter;
  readonly wakeSlots: Gauge;

  constructor(
    registry: Registry,
    capacity: () => number,
    counts: () => Promise<WorkerCounts>,
    wakeCapacity: () => number,
  ) {
    const registers = [registry];
    this.activeStreams = new Gauge({
      name: "hotpin_stt_active_streams",
      help: "Streams being recognised now",
      labelNames: ["engine"],
      registers,
    });
    this.streams = new Counter({
      name: "hotpin_stt_streams_total",
      help: "Streams ended, by engine and outcome (final, cancelled, error)",
      labelNames: ["engine", "outcome"],
      registers,
    });
    this.errors = new Counter({
      name: "hotpin_stt_errors_total",
      help: "Calls ended with an error status, by gRPC code name",
      labelNames: ["code"],
      registers,
    });
    this.refused = new Counter({
      name: "hotpin_stt_refused_total",
      help: "Streams refused with RESOURCE_EXHAUSTED because every worker slot was taken",
      registers,
    });
    this.realTimeFactor = new Histogram({
      name: "hotpin_stt_real_time_factor",
      help: "Engine time divided by audio duration, per utterance",
      labelNames: ["engine"],
      buckets: [0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 5],
      registers,
    });
    this.queueWait = new Histogram({
      name: "hotpin_stt_queue_wait_seconds",
      help: "Time an audio chunk waited for its worker before the engine took it",
      buckets: latencyBuckets,
      registers,
    });
    this.partialLatency = new Histogram({
      name: "hotpin_stt_partial_latency_seconds",
      help: "Time from receiving a chunk to sending the partial result it produced",
      labelNames: ["engine"],
      buckets: latencyBuckets,
      registers,
    });
    this.audioSeconds = new Counter({
      name: "hotpin_stt_audio_seconds_total",
      help: "Audio recognised, in seconds",
      labelNames: ["engine"],
      registers,
    });
    this.finalSources = new Counter({
      name: "hotpin_stt_combined_finals_total",
      help: "Finals of pocketsphinx+groq streams by the engine that gave them (reason: ok, error, deadline)",
      labelNames: ["source", "reason"],
      registers,
    });
    this.slots = new Gauge({
      name: "hotpin_stt_pool_slots",
      help: "Streams the worker pool can hold at once",
      registers,
      collect() {
        this.set(capacity());
      },
    });
    this.recognizers = new Gauge({
      name: "hotpin_stt_recognizers",
      help: "Engine recognizers (PocketSphinx decoders, Vosk recognizers) in the workers: live = lent to a stream, idle = kept for reuse, building = being built for a stream that found none idle",
      labelNames: ["state"],
      registers,
      async collect() {
        const c = await counts();
        this.set({ state: "live" }, c.live);
        this.set({ state: "idle" }, c.idle);
        this.set({ state: "building" }, c.building);
      },
    });
    this.wakeActiveStreams = new Gauge({
      name: "hotpin_stt_wake_active_streams",
      help: "Wake-word spotting streams open now",
      registers,
    });
    this.wakeStreams = new Counter({
      name: "hotpin_stt_wake_streams_total",
      help: "Spotting streams ended, by outcome (final = the client ended it, cancelled, error)",
      labelNames: ["outcome"],
      registers,
    });
    this.wakeRefused = new Counter({
      name: "hotpin_stt_wake_refused_total",
      help: "Spotting streams refused with RESOURCE_EXHAUSTED because every spotting slot was taken",
      registers,
    });
    this.wakeDetections = new Counter({
      name: "hotpin_stt_wake_detections_total",
      help: "Wake phrases detected (the phrase is not a label: one series whatever is configured)",
      registers,
    });
    this.wakeConfidence = new Histogram({
      name: "hotpin_stt_wake_confidence",
      help: "Confidence of wake-word detections, 0..1",
      buckets: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1],
      registers,
    });
    this.wakeRealTimeFactor = new Histogram({
      name: "hotpin_stt_wake_real_time_factor",
      help: "Engine time divided by audio duration per spotting stream: the share of a core one always-listening stream takes",
      buckets: [0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2, 0.5, 1],
      registers,
    });
    this.wakeAudioSeconds = new Counter({
      name: "hotpin_stt_wake_audio_seconds_total",
      help: "Audio of ended spotting streams, in seconds",
      registers,
    });
    this.wakeSlots = new Gauge({
      name: "hotpin_stt_wake_pool_slots",
      help: "Spotting streams the worker pool can hold at once (0: spotting off)",
      registers,
      collect() {
        this.set(wakeCapacity());
      },
    });
    this.workerHeap = new Gauge({
      name: "hotpin_stt_worker_heap_bytes",
      help: "JavaScript heap in use in the engine worker threads, summed (the main thread's is hotpin_nodejs_heap_size_used_bytes)",
      registers,
      async collect() {
        this.set((await counts()).heapBytes);
      },
    });
  }
}
