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
 * pocketsphinx+groq, then pocketsphinx, then groq.
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
  if (available.includes("pocketsphinx") && available.includes("groq")) available.push("pocketsphinx+groq");
  else unavailable["pocketsphinx+groq"] = unavailable.pocketsphinx ?? unavailable.groq;

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
  // Without a Vosk model, a Groq key buys Whisper's accuracy for the final while PocketSphinx
  // keeps the partials local and is the fallback (README "Engines").
  const order = ["vosk", "pocketsphinx+groq", "pocketsphinx", "groq"] as const;
  const preferred = order.find((name) => available.includes(name));
  const skipped = order
    .slice(0, preferred ? order.indexOf(preferred) : order.length)
    .map((name) => `${name}: ${unavailable[name]}`);
  const reason = preferred
    ? `auto: ${preferred} is the first available${skipped.length ? ` (${skipped.join("; ")})` : ""}`
    : `auto: no engine available (${skipped.join("; ")})`;
  return { preferred, available, unavailable, reason, voskModel };
}
