import type { Logger } from "@hotpin/runtime";
import type { Registry } from "prom-client";
import type { TtsConfig } from "./config";
import { EspeakEngine } from "./espeak-engine";
import { createTtsMetrics } from "./metrics";
import { PhraseCache } from "./phrase-cache";
import { textToSpeechService } from "./service";
import { Slots } from "./slots";
import { Speaker } from "./speaker";

export type TtsAppConfig = Omit<
  TtsConfig,
  | "host"
  | "port"
  | "metricsPort"
  | "natsServers"
  | "natsToken"
  | "logLevel"
  | "shutdownDelayMs"
  | "shutdownStepTimeoutMs"
  | "shutdownDeadlineMs"
>;

/** Everything the service is made of, built from config; main.ts, tests and the bench share it. */
export function createTtsApp(cfg: TtsAppConfig, registry: Registry, log: Logger) {
  const engine = new EspeakEngine({
    espeakBin: cfg.espeakBin,
    soxBin: cfg.soxBin,
    timeoutMs: cfg.sentenceTimeoutMs,
    warmPairs: cfg.warmPairs,
  });
  const cache = new PhraseCache(cfg.cacheBytes);
  const metrics = createTtsMetrics(registry, () => cache.bytes);
  engine.on("exit", ({ killed }) => {
    if (killed) metrics.engineKills.inc();
  });
  const slots = new Slots(cfg.maxConcurrent);
  metrics.slots.set(cfg.maxConcurrent);
  const speaker = new Speaker(engine, cache, metrics, {
    chunkBytes: cfg.chunkBytes,
    cacheMaxPhraseChars: cfg.cacheMaxPhraseChars,
  });
  const service = textToSpeechService({ speaker, slots, metrics, log, limits: cfg });
  const voice = { voice: cfg.voice, rateWpm: cfg.rateWpm, pitch: cfg.pitch };
  return { engine, cache, metrics, slots, speaker, service, engineCheck: cachedCheck(() => engine.check(voice)) };
}

/**
 * A health check that really runs the engine, at most once per `ttlMs` however often probes
 * and Watch streams ask, and never twice at the same time.
 */
export function cachedCheck(run: () => Promise<true | string>, ttlMs = 10_000) {
  let last: { at: number; result: true | string } | undefined;
  let pending: Promise<true | string> | undefined;
  return (): Promise<true | string> => {
    if (last && performance.now() - last.at < ttlMs) return Promise.resolve(last.result);
    pending ??= run().then((result) => {
      last = { at: performance.now(), result };
      pending = undefined;
      return result;
    });
    return pending;
  };
}
