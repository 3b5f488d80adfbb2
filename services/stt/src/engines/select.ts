import type { EngineName, SttConfig } from "../settings";
import { pocketSphinxArgs } from "./pocketsphinx";
import { pocketSphinxApi } from "./pocketsphinx-binding";
import { loadVoskModel, type VoskModel } from "./vosk-binding";

export interface EngineSelection {
  /** The engine a stream gets when it names none; undefined when nothing can run here. */
  preferred: EngineName | undefined;
  available: EngineName[];
  /** Why each engine that cannot run cannot. */
  unavailable: Partial<Record<EngineName, string>>;
  /** One sentence for the start-up log. */
  reason: string;
  voskModel?: VoskModel;
}

type Probe = Pick<
  SttConfig,
  "engine" | "voskModelPath" | "voskLibPath" | "pocketsphinxModelDir" | "groqApiKey" | "groqBaseUrl"
>;

/**
 * Finds which engines can run in this process (loading the one Vosk model if configured) and
 * which one streams get by default: the configured one, or with "auto" vosk, then
 * pocketsphinx, then groq.
 */
export function selectEngines(cfg: Probe): EngineSelection {
  const available: EngineName[] = [];
  const unavailable: Partial<Record<EngineName, string>> = {};
  let voskModel: VoskModel | undefined;

  try {
    voskModel = loadVoskModel(cfg.voskModelPath, cfg.voskLibPath);
    available.push("vosk");
  } catch (err) {
    unavailable.vosk = (err as Error).message;
  }
  try {
    pocketSphinxArgs(cfg.pocketsphinxModelDir);
    pocketSphinxApi();
    available.push("pocketsphinx");
  } catch (err) {
    unavailable.pocketsphinx = (err as Error).message;
  }
  if (cfg.groqApiKey) available.push("groq");
  else unavailable.groq = "no Groq API key (GROQ_API_KEY)";

  if (cfg.engine !== "auto") {
    const ok = available.includes(cfg.engine);
    return {
      preferred: ok ? cfg.engine : undefined,
      available,
      unavailable,
      reason: ok ? `${cfg.engine} configured` : `${cfg.engine} configured but unavailable: ${unavailable[cfg.engine]}`,
      voskModel,
    };
  }
  const preferred = available[0];
  const skipped = (["vosk", "pocketsphinx", "groq"] as const)
    .slice(0, preferred ? ["vosk", "pocketsphinx", "groq"].indexOf(preferred) : 3)
    .map((name) => `${name}: ${unavailable[name]}`);
  const reason = preferred
    ? `auto: ${preferred} is the first available${skipped.length ? ` (${skipped.join("; ")})` : ""}`
    : `auto: no engine available (${skipped.join("; ")})`;
  return { preferred, available, unavailable, reason, voskModel };
}
