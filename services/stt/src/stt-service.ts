import type { Logger } from "@hotpin/runtime";
import type { Registry } from "prom-client";
import { type EngineSelection, selectEngines } from "./engines/select";
import { prepareWakeFiles, type WakeFiles } from "./engines/wake-phrases";
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
  /** The wake phrases the Spot RPC listens for; empty when spotting is off. */
  wakePhrases: string[];
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
  const { files: wake, off: wakeOff } = wakeSetup(cfg, selection);
  log.info({ phrases: wake?.phrases ?? [], off: wakeOff }, "stt wake-word spotting");
  let pool: WorkerPool;
  try {
    pool = await startPool(cfg, selection, wake, log);
  } catch (err) {
    wake?.remove();
    throw err;
  }
  const metrics = new SttMetrics(
    registry,
    () => pool.capacity,
    () => pool.counts(),
    () => pool.wakeCapacity,
  );
  const implementation = speechToText({
    pool,
    metrics,
    limits: cfg,
    preferred: selection.preferred,
    unavailable: selection.unavailable,
    wakeOff,
  });
  return {
    selection,
    pool,
    metrics,
    implementation,
    wakePhrases: wake?.phrases ?? [],
    check() {
      if (!selection.preferred) return selection.reason;
      const problems = pool.problems();
      return problems.length === 0 ? true : problems.join("; ");
    },
    async close() {
      await pool.close();
      // Workers are gone, so no recognizer still points into the model or the wake files.
      selection.voskModel?.free();
      wake?.remove();
    },
  };
}

/**
 * The wake phrases' files, or why spotting is off. Off, not a start-up failure, without
 * PocketSphinx (a Vosk- or Groq-only replica still recognises); a phrase that cannot be
 * pronounced is a configuration mistake and fails the start.
 */
function wakeSetup(cfg: SttConfig, selection: EngineSelection): { files?: WakeFiles; off?: string } {
  if (cfg.wakePhrases.length === 0 || cfg.wakePhrases.join() === "off")
    return { off: "HOTPIN_STT_WAKE_PHRASES is off" };
  const noSphinx = selection.unavailable.pocketsphinx;
  if (noSphinx) return { off: `it needs pocketsphinx: ${noSphinx}` };
  return {
    files: prepareWakeFiles({
      modelDir: cfg.pocketsphinxModelDir,
      phrases: cfg.wakePhrases,
      threshold: cfg.wakeThreshold,
      phoneLoopProb: cfg.wakePhoneLoopProb,
      pronunciations: cfg.wakePronunciations,
    }),
  };
}

function startPool(cfg: SttConfig, selection: EngineSelection, wake: WakeFiles | undefined, log: Logger) {
  return WorkerPool.start(
    cfg.workers,
    {
      engines: selection.available,
      streamsPerWorker: cfg.streamsPerWorker,
      wakeStreamsPerWorker: cfg.wakeStreamsPerWorker,
      wake: wake && { args: wake.args },
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
}
