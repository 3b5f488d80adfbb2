import { availableParallelism } from "node:os";
import { int, list, num, oneOf, runtimeSettings, secret, str } from "@hotpin/runtime";

/** "pocketsphinx+groq": PocketSphinx partials, the final from Groq Whisper (local final as fallback). */
export const ENGINE_NAMES = ["vosk", "pocketsphinx", "groq", "pocketsphinx+groq"] as const;
export type EngineName = (typeof ENGINE_NAMES)[number];

/** Every setting of the STT service; README.md lists them with these doc strings. */
export const sttSettings = {
  ...runtimeSettings("stt", { port: 50051, metricsPort: 9465 }),
  engine: oneOf(
    "HOTPIN_STT_ENGINE",
    ["auto", ...ENGINE_NAMES],
    "auto",
    "engine: auto picks vosk when a model loads, else pocketsphinx (with the final from groq when a key is set), else groq",
  ),
  workers: int("HOTPIN_STT_WORKERS", availableParallelism(), "worker threads running engines (default: cores)", {
    min: 1,
    max: 256,
  }),
  streamsPerWorker: int("HOTPIN_STT_STREAMS_PER_WORKER", 6, "streams one worker serves at once; more are refused", {
    min: 1,
    max: 64,
  }),
  warmRecognizers: int(
    "HOTPIN_STT_WARM_RECOGNIZERS",
    64,
    "pocketsphinx decoders each worker builds at start-up, at most HOTPIN_STT_STREAMS_PER_WORKER (default: one per slot); each takes ~0.5 s and ~90 MB, and a stream that finds none idle waits for one to be built",
    { min: 0, max: 64 },
  ),
  maxUtteranceMs: int("HOTPIN_STT_MAX_UTTERANCE_MS", 60_000, "longest utterance accepted, in ms of audio", {
    min: 1_000,
    max: 600_000,
  }),
  idleTimeoutMs: int("HOTPIN_STT_IDLE_TIMEOUT_MS", 5_000, "longest gap between messages of a stream", {
    min: 100,
    max: 600_000,
  }),
  maxChunkBytes: int("HOTPIN_STT_MAX_CHUNK_BYTES", 256 * 1024, "largest audio chunk accepted in one message", {
    min: 2,
    max: 4 * 1024 * 1024,
  }),
  maxInflightBytes: int(
    "HOTPIN_STT_MAX_INFLIGHT_BYTES",
    512 * 1024,
    "audio of one stream queued for its worker before reading from the client pauses",
    { min: 4096, max: 64 * 1024 * 1024 },
  ),
  minSampleRateHz: int("HOTPIN_STT_MIN_SAMPLE_RATE_HZ", 8_000, "lowest input sample rate resampled to 16 kHz", {
    min: 1_000,
  }),
  maxSampleRateHz: int("HOTPIN_STT_MAX_SAMPLE_RATE_HZ", 48_000, "highest input sample rate resampled to 16 kHz", {
    min: 1_000,
    max: 384_000,
  }),
  speechRmsThreshold: num(
    "HOTPIN_STT_SPEECH_RMS_THRESHOLD",
    200,
    "RMS (PCM16 units) above which a 30 ms frame counts as speech for speech_ratio",
    { min: 0, max: 32767 },
  ),
  voskModelPath: str("HOTPIN_STT_VOSK_MODEL_PATH", "", "folder of an unpacked Vosk model; empty: vosk unavailable"),
  voskLibPath: str("HOTPIN_STT_VOSK_LIB", "", "path of libvosk.so; empty: the one shipped in the vosk npm package"),
  pocketsphinxModelDir: str(
    "HOTPIN_STT_POCKETSPHINX_MODEL_DIR",
    "/usr/share/pocketsphinx/model/en-us",
    "folder with en-us/ (acoustic model), en-us.lm.bin and cmudict-en-us.dict",
  ),
  groqApiKey: secret("GROQ_API_KEY", "Groq API key; empty: groq unavailable"),
  groqBaseUrl: str("GROQ_BASE_URL", "https://api.groq.com", "Groq API base URL"),
  groqModel: str("HOTPIN_STT_GROQ_MODEL", "whisper-large-v3-turbo", "Groq Whisper model"),
  groqFinalDeadlineMs: int(
    "HOTPIN_STT_GROQ_FINAL_DEADLINE_MS",
    1_500,
    "pocketsphinx+groq: how long after the end of a stream Groq's final may take before the local final is used",
    { min: 100, max: 60_000 },
  ),
  groqTimeoutMs: int("HOTPIN_STT_GROQ_TIMEOUT_MS", 30_000, "deadline of one Groq transcription request", {
    min: 1_000,
    max: 300_000,
  }),
  wakePhrases: list(
    "HOTPIN_STT_WAKE_PHRASES",
    "wake phrases the Spot RPC listens for, comma-separated; off: spotting off. Each word needs a pronunciation: the model dictionary's, one made of dictionary words (hotpin = hot + pin) or HOTPIN_STT_WAKE_PRONUNCIATIONS",
    ["hey hotpin"],
  ),
  wakeThreshold: num(
    "HOTPIN_STT_WAKE_THRESHOLD",
    1e-5,
    "keyphrase detection threshold (PocketSphinx kws): lower detects more, and more falsely (measured in the README)",
    { min: 1e-100, max: 1 },
  ),
  wakePhoneLoopProb: num(
    "HOTPIN_STT_WAKE_PHONE_LOOP_PROB",
    1e-10,
    "phone-loop probability of the keyphrase search (kws_plp): lower detects more, and more falsely",
    { min: 1e-100, max: 1 },
  ),
  wakePronunciations: list(
    "HOTPIN_STT_WAKE_PRONUNCIATIONS",
    'extra pronunciations for wake words, comma-separated "word=PHONES" in the model\'s phone set, e.g. "hotpin=HH AA T P IH N"',
  ),
  wakeStreamsPerWorker: int(
    "HOTPIN_STT_WAKE_STREAMS_PER_WORKER",
    16,
    "spotting streams one worker serves at once, apart from its recognition slots; more are refused",
    { min: 1, max: 256 },
  ),
  wakeMaxStreamMs: int(
    "HOTPIN_STT_WAKE_MAX_STREAM_MS",
    30 * 60_000,
    "longest spotting stream, in ms of audio; then it ends with OUT_OF_RANGE and the client reopens",
    { min: 10_000, max: 24 * 3_600_000 },
  ),
};

export type SttConfig = {
  [K in keyof typeof sttSettings]: ReturnType<(typeof sttSettings)[K]["read"]>;
};
