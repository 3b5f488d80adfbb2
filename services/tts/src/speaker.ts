import type { tts } from "@hotpin/contracts";
import { inSpan } from "@hotpin/runtime";
import { SynthesisCancelledError } from "./errors";
import type { EspeakEngine } from "./espeak-engine";
import type { TtsMetrics } from "./metrics";
import { PhraseCache } from "./phrase-cache";
import type { Plan } from "./request-plan";

export interface SpeakerOptions {
  chunkBytes: number;
  cacheMaxPhraseChars: number;
}

/** A plan with the cached audio already taken out of the cache, so eviction cannot bite later. */
export interface PreparedPlan extends Plan {
  cached: Array<Buffer | undefined>;
  cacheKeys: Array<string | undefined>;
}

/**
 * Turns a plan into AudioChunk messages sentence by sentence, then one SynthesisDone. A sentence
 * is sent whole once synthesised (so the byte cap can cut exactly at a sentence boundary) and
 * before the next one starts, so the first audio leaves while the rest is still to come.
 */
export class Speaker {
  private readonly chunkBytes: number;

  constructor(
    private readonly engine: EspeakEngine,
    private readonly cache: PhraseCache,
    private readonly metrics: TtsMetrics,
    private readonly options: SpeakerOptions,
  ) {
    this.chunkBytes = options.chunkBytes - (options.chunkBytes % 2);
  }

  /** Looks every cacheable sentence up once; `needsEngine` tells whether a slot is required. */
  prepare(plan: Plan): PreparedPlan & { needsEngine: boolean } {
    const cacheKeys = plan.sentences.map((text) =>
      this.cache.maxBytes > 0 && text.length <= this.options.cacheMaxPhraseChars
        ? PhraseCache.key({ ...plan, text })
        : undefined,
    );
    const cached = cacheKeys.map((k) => {
      if (k === undefined) return undefined;
      const hit = this.cache.get(k);
      (hit ? this.metrics.cacheHits : this.metrics.cacheMisses).inc();
      return hit;
    });
    return { ...plan, cacheKeys, cached, needsEngine: cached.some((c) => c === undefined) };
  }

  async *speak(plan: PreparedPlan, signal: AbortSignal): AsyncGenerator<tts.SynthesizeResponse> {
    let total = 0;
    let spoken = 0;
    let truncated = false;
    for (let i = 0; i < plan.sentences.length; i++) {
      if (signal.aborted) throw new SynthesisCancelledError();
      const remaining = plan.maxBytes - total;
      let pcm = plan.cached[i];
      if (pcm) {
        this.metrics.sentences.inc({ source: "cache" });
      } else {
        const audio = await this.synthesize(plan, i, remaining, signal);
        if (audio.overflow) {
          truncated = true;
          break;
        }
        pcm = audio.pcm;
        const key = plan.cacheKeys[i];
        if (key !== undefined) this.cache.set(key, pcm);
        this.metrics.sentences.inc({ source: "engine" });
      }
      if (pcm.length > remaining) {
        truncated = true;
        break;
      }
      for (let off = 0; off < pcm.length; off += this.chunkBytes) {
        yield { event: { $case: "chunk", value: { pcm: pcm.subarray(off, off + this.chunkBytes), sentenceIndex: i } } };
      }
      total += pcm.length;
      spoken++;
    }
    const seconds = total / 2 / plan.sampleRateHz;
    this.metrics.audioSeconds.inc(seconds);
    yield {
      event: {
        $case: "done",
        value: {
          durationMs: Math.round(seconds * 1000),
          totalBytes: total,
          sampleRateHz: plan.sampleRateHz,
          sentencesSpoken: spoken,
          truncated,
        },
      },
    };
  }

  private synthesize(plan: PreparedPlan, index: number, maxBytes: number, signal: AbortSignal) {
    const text = plan.sentences[index] ?? "";
    // Span attributes are sizes and indexes only, never the text.
    return inSpan(
      "tts.sentence",
      { "hotpin.tts.sentence_index": index, "hotpin.tts.chars": text.length },
      async (span) => {
        const began = performance.now();
        const audio = await this.engine.synthesize({ ...plan, text, maxBytes, signal });
        if (!audio.overflow && audio.pcm.length > 0) {
          const audioSeconds = audio.pcm.length / 2 / plan.sampleRateHz;
          this.metrics.realTimeFactor.observe((performance.now() - began) / 1000 / audioSeconds);
          span.setAttribute("hotpin.audio.bytes", audio.pcm.length);
        }
        span.setAttribute("hotpin.tts.overflow", audio.overflow);
        return audio;
      },
    );
  }
}
