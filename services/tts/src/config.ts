import { availableParallelism } from "node:os";
import { int, readConfig, runtimeSettings, str } from "@hotpin/runtime";

/** The DAWN client takes at most 960000 bytes of WAV: the PCM of a default reply fits with its header. */
export const DAWN_MAX_PCM_BYTES = 960_000 - 44;

export const ttsSettings = {
  ...runtimeSettings("tts", { port: 50053, metricsPort: 9467 }),
  espeakBin: str("HOTPIN_TTS_ESPEAK_BIN", "espeak-ng", "espeak-ng executable (a name on PATH or a path)"),
  soxBin: str("HOTPIN_TTS_SOX_BIN", "sox", "sox executable used to resample espeak-ng's 22050 Hz output"),
  voice: str("HOTPIN_TTS_VOICE", "en-us", "espeak-ng voice when a request names none"),
  rateWpm: int("HOTPIN_TTS_RATE_WPM", 175, "speaking rate in words per minute when a request gives none", {
    min: 80,
    max: 450,
  }),
  pitch: int("HOTPIN_TTS_PITCH", 50, "pitch 1..99 when a request gives none", { min: 1, max: 99 }),
  maxConcurrent: int(
    "HOTPIN_TTS_MAX_CONCURRENT",
    2 * availableParallelism(),
    "requests synthesising at once; more are refused with RESOURCE_EXHAUSTED",
    { min: 1, max: 1024 },
  ),
  maxBytes: int(
    "HOTPIN_TTS_MAX_BYTES",
    DAWN_MAX_PCM_BYTES,
    "PCM byte cap of a request that sets none (default: a 960000-byte WAV for the DAWN client)",
    { min: 2 },
  ),
  maxBytesCeiling: int(
    "HOTPIN_TTS_MAX_BYTES_CEILING",
    9_600_000,
    "largest PCM byte cap a request may ask for (larger asks are lowered to it); 9600000 = 5 min at 16 kHz",
    { min: 2 },
  ),
  maxTextChars: int("HOTPIN_TTS_MAX_TEXT_CHARS", 10_000, "longest text (or all sentences together) accepted", {
    min: 1,
    max: 1_000_000,
  }),
  maxSentences: int("HOTPIN_TTS_MAX_SENTENCES", 500, "most sentences one request may hold after splitting", {
    min: 1,
    max: 100_000,
  }),
  maxSentenceChars: int(
    "HOTPIN_TTS_MAX_SENTENCE_CHARS",
    400,
    "longer sentences are cut at a clause or word boundary, bounding one engine call",
    { min: 20, max: 10_000 },
  ),
  sentenceTimeoutMs: int("HOTPIN_TTS_SENTENCE_TIMEOUT_MS", 10_000, "longest one sentence may take to synthesise", {
    min: 100,
  }),
  warmPairs: int(
    "HOTPIN_TTS_WARM_PAIRS",
    2,
    "espeak-ng + sox pairs kept started and waiting for text (one per recent voice/rate/pitch/sample rate); 0: none",
    { min: 0, max: 64 },
  ),
  chunkBytes: int("HOTPIN_TTS_CHUNK_BYTES", 16_000, "PCM bytes per AudioChunk message (rounded down to even)", {
    min: 320,
    max: 1 << 20,
  }),
  cacheBytes: int("HOTPIN_TTS_CACHE_BYTES", 16 << 20, "phrase cache size in bytes; 0 disables it", { min: 0 }),
  cacheMaxPhraseChars: int(
    "HOTPIN_TTS_CACHE_MAX_PHRASE_CHARS",
    120,
    "only sentences up to this length are cached (fixed prompts and spoken errors are short)",
    { min: 0, max: 10_000 },
  ),
};

export function readTtsConfig(env: NodeJS.ProcessEnv = process.env) {
  return readConfig(ttsSettings, env);
}

export type TtsConfig = ReturnType<typeof readTtsConfig>;
