import type { Logger } from "@hotpin/runtime";
import type { Registry } from "prom-client";
import { type EngineSelection, selectEngines } from "./engines/select";
import { SttMetrics } from "./metrics";
import { WorkerPool } from "./pool/worker-pool";
import type { SttConfig } from "./settings";
import { speechToText } from "./speech-to-text";

export interface SttService {
  selection: EngineSelection;
  pool: WorkerPool;
  metrics: SttMetrics;
  /** The hotpin.stt.v1.SpeechToText implementation to add to a gRPC server. */
  implementation: ReturnType<typeof speechToText>;
  /** Why the service cannot recognise speech now, or true. */
  check(): true | string;
  close(): Promise<void>;
}

/** Engines, worker pool and the gRPC implementation, as main.ts and the tests start them. */
export async function startSttService(cfg: SttConfig, log: Logger, registry: Registry): Promise<SttService> {
  const selection = selectEngines(cfg);
  log.info(
    { engine: selection.preferred ?? "none", available: selection.available, reason: selection.reason },
    "stt engine selected",
  );
  const pool = await WorkerPool.start(
    cfg.workers,
    {
      engines: selection.available,
      streamsPerWorker: cfg.streamsPerWorker,
      // Decoders are only prepared for the engine streams get by default.
      warmRecognizers: selection.preferred?.startsWith("pocketsphinx") ? cfg.warmRecognizers : 0,
      speechRmsThreshold: cfg.speechRmsThreshold,
      maxUtteranceMs: cfg.maxUtteranceMs,
      pocketsphinxModelDir: cfg.pocketsphinxModelDir,
      voskLibPath: cfg.voskLibPath,
      voskModelAddress: selection.voskModel?.address,
      groq: cfg.groqApiKey
        ? {
            apiKey: cfg.groqApiKey,
            baseUrl: cfg.groqBaseUrl,
            model: cfg.groqModel,
            timeoutMs: cfg.groqTimeoutMs,
            finalDeadlineMs: cfg.groqFinalDeadlineMs,
          }
        : undefined,
    },
    log,
  );
  const metrics = new SttMetrics(
    registry,
    () => pool.capacity,
    () => pool.counts(),
  );
  const implementation = speechToText({
    pool,
    metrics,
    limits: cfg,
    preferred: selection.preferred,
    unavailable: selection.unavailable,
  });
  return {
    selection,
    pool,
    metrics,
    implementation,
    check() {
      if (!selection.preferred) return selection.reason;
      const problems = pool.problems();
      return problems.length === 0 ? true : problems.join("; ");
    },
    async close() {
      await pool.close();
      // Workers are gone, so no recognizer still points into the model.
      selection.voskModel?.free();
    },
  };
}
