import type { tts } from "@hotpin/contracts";
import { inSpan } from "@hotpin/runtime";
import { SynthesisCancelledError } from "./errors";
import type { EspeakEngine, SentenceAudio } from "./espeak-engine";
import type { TtsMetrics } from "./metrics";
import { PhraseCache } from "./phrase-cache";
import type { Plan } from "./request-plan";
import { speechBytesBound } from "./speech-length";

export interface SpeakerOptions {
  chunkBytes: number;
  cacheMaxPhraseChars: number;
}

/** A plan with the cached audio already taken out of the cache, so eviction cannot bite later. */
export interface PreparedPlan extends Plan {
  cached: Array<Buffer | undefined>;
  cacheKeys: Array<string | undefined>;
}

type Response = tts.SynthesizeResponse;

/**
 * Turns a plan into AudioChunk messages sentence by sentence, then one SynthesisDone. Far from
 * the byte cap a sentence streams while espeak-ng produces it, so the first audio leaves within
 * milliseconds; when what is left of the cap could be less than a generous estimate of the
 * sentence's length (speech-length.ts), the sentence is held until complete, so the cap cuts
 * exactly at a sentence boundary.
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

  async *speak(plan: PreparedPlan, signal: AbortSignal): AsyncGenerator<Response> {
    let total = 0;
    let spoken = 0;
    let truncated = false;
    for (let i = 0; i < plan.sentences.length; i++) {
      if (signal.aborted) throw new SynthesisCancelledError();
      const remaining = plan.maxBytes - total;
      const text = plan.sentences[i] ?? "";
      let pcm = plan.cached[i];
      if (pcm) {
        this.metrics.sentences.inc({ source: "cache" });
      } else if (remaining >= speechBytesBound(text, plan.rateWpm, plan.sampleRateHz)) {
        const sent = yield* this.stream(plan, i, remaining, signal);
        total += sent.bytes;
        if (sent.overflow) {
          // Only text beyond the estimate's measured worst cases gets here; the cap still holds.
          this.metrics.streamedOverflows.inc();
          truncated = true;
          break;
        }
        this.metrics.sentences.inc({ source: "engine" });
        spoken++;
        continue;
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
        yield chunk(pcm.subarray(off, off + this.chunkBytes), i);
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

  /** One sentence sent as sox writes it: whatever has arrived, up to chunkBytes per message. */
  private async *stream(
    plan: PreparedPlan,
    index: number,
    maxBytes: number,
    signal: AbortSignal,
  ): AsyncGenerator<Response, { bytes: number; overflow: boolean }> {
    const queue: Buffer[] = [];
    let wake: (() => void) | undefined;
    let result: { audio?: SentenceAudio; err?: unknown } | undefined;
    const job = this.synthesize(plan, index, maxBytes, signal, (pcm) => {
      queue.push(pcm);
      wake?.();
    });
    job.then(
      (audio) => {
        result = { audio };
        wake?.();
      },
      (err) => {
        result = { err };
        wake?.();
      },
    );
    const key = plan.cacheKeys[index];
    const kept: Buffer[] | undefined = key !== undefined ? [] : undefined;
    let bytes = 0;
    for (;;) {
      if (queue.length === 0 && !result) await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
      while (queue.length > 0) {
        // Pieces already here go out together, so a fast engine does not mean tiny messages.
        let piece = queue.shift() as Buffer;
        while (queue.length > 0 && piece.length + (queue[0] as Buffer).length <= this.chunkBytes)
          piece = Buffer.concat([piece, queue.shift() as Buffer]);
        for (let off = 0; off < piece.length; off += this.chunkBytes) {
          const part = piece.subarray(off, off + this.chunkBytes);
          kept?.push(part);
          bytes += part.length;
          yield chunk(part, index);
        }
      }
      if (result && queue.length === 0) break;
    }
    if (result.err !== undefined) throw result.err;
    const overflow = result.audio?.overflow === true;
    if (!overflow && key !== undefined && kept) this.cache.set(key, Buffer.concat(kept));
    return { bytes, overflow };
  }

  private synthesize(
    plan: PreparedPlan,
    index: number,
    maxBytes: number,
    signal: AbortSignal,
    onPcm?: (pcm: Buffer) => void,
  ) {
    const text = plan.sentences[index] ?? "";
    // Span attributes are sizes and indexes only, never the text.
    return inSpan(
      "tts.sentence",
      { "hotpin.tts.sentence_index": index, "hotpin.tts.chars": text.length, "hotpin.tts.streamed": !!onPcm },
      async (span) => {
        const began = performance.now();
        let streamed = 0;
        const audio = await this.engine.synthesize({
          ...plan,
          text,
          maxBytes,
          signal,
          ...(onPcm
            ? {
                onPcm: (pcm: Buffer) => {
                  streamed += pcm.length;
                  onPcm(pcm);
                },
              }
            : {}),
        });
        const bytes = audio.overflow ? 0 : audio.pcm.length + streamed;
        if (bytes > 0) {
          const audioSeconds = bytes / 2 / plan.sampleRateHz;
          this.metrics.realTimeFactor.observe((performance.now() - began) / 1000 / audioSeconds);
          span.setAttribute("hotpin.audio.bytes", bytes);
        }
        span.setAttribute("hotpin.tts.overflow", audio.overflow);
        return audio;
      },
    );
  }
}

function chunk(pcm: Buffer, sentenceIndex: number): Response {
  return { event: { $case: "chunk", value: { pcm, sentenceIndex } } };
}
