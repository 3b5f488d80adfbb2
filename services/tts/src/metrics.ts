import { latencyBuckets } from "@hotpin/runtime";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";

export type Outcome = "ok" | "truncated" | "cancelled" | "refused" | "invalid" | "failed";

/** The service's metrics on the process registry. No label ever carries request content. */
export function createTtsMetrics(registry: Registry, cacheBytes: () => number) {
  const registers = [registry];
  return {
    requests: new Counter({
      name: "hotpin_tts_requests_total",
      help: "Synthesize calls by outcome",
      labelNames: ["outcome"] as const,
      registers,
    }),
    active: new Gauge({ name: "hotpin_tts_active_requests", help: "Synthesize calls in progress", registers }),
    slots: new Gauge({
      name: "hotpin_tts_slots",
      help: "Synthesize calls the service takes at once (HOTPIN_TTS_MAX_CONCURRENT)",
      registers,
    }),
    firstChunk: new Histogram({
      name: "hotpin_tts_first_chunk_seconds",
      help: "Time from request to the first audio chunk written",
      buckets: latencyBuckets,
      registers,
    }),
    realTimeFactor: new Histogram({
      name: "hotpin_tts_real_time_factor",
      help: "Engine time divided by audio duration, per synthesised sentence (below 1 is faster than real time)",
      buckets: [0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5],
      registers,
    }),
    streamedOverflows: new Counter({
      name: "hotpin_tts_streamed_overflows_total",
      help: "Streamed sentences that outgrew the byte cap after all (cut inside; the length estimate was too low)",
      registers,
    }),
    audioSeconds: new Counter({
      name: "hotpin_tts_audio_seconds_total",
      help: "Seconds of audio sent",
      registers,
    }),
    sentences: new Counter({
      name: "hotpin_tts_sentences_total",
      help: "Sentences spoken, by where the audio came from",
      labelNames: ["source"] as const,
      registers,
    }),
    cacheHits: new Counter({ name: "hotpin_tts_cache_hits_total", help: "Phrase cache hits", registers }),
    cacheMisses: new Counter({
      name: "hotpin_tts_cache_misses_total",
      help: "Phrase cache misses for cacheable sentences",
      registers,
    }),
    cacheSize: new Gauge({
      name: "hotpin_tts_cache_bytes",
      help: "PCM bytes held by the phrase cache",
      registers,
      collect() {
        this.set(cacheBytes());
      },
    }),
    engineKills: new Counter({
      name: "hotpin_tts_engine_kills_total",
      help: "Engine process pairs killed before finishing (cancel, timeout, byte cap)",
      registers,
    }),
  };
}

export type TtsMetrics = ReturnType<typeof createTtsMetrics>;
