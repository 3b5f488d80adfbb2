import { bool, int, list, num, runtimeSettings, secret, str } from "@hotpin/runtime";

export const DEFAULT_SYSTEM_PROMPT =
  "You are HotPin, a voice assistant worn as a small pin. Your answers are spoken aloud, so answer " +
  "briefly in plain conversational sentences: no markdown, lists, code, links or emojis. When a " +
  "photo from the camera is attached, describe or use what it shows only as far as the question needs.";

/** Every setting of the LLM service; the README lists them. */
export const llmSettings = {
  ...runtimeSettings("llm", { port: 50052, metricsPort: 9466 }),
  groqApiKey: secret("GROQ_API_KEY", "Groq API key; empty disables the Groq provider"),
  groqBaseUrl: str("GROQ_BASE_URL", "", "Groq API base URL (empty: groq-sdk's default, https://api.groq.com)"),
  groqModel: str("HOTPIN_LLM_GROQ_MODEL", "meta-llama/llama-4-scout-17b-16e-instruct", "Groq model (multimodal)"),
  groqFallbackModels: list(
    "HOTPIN_LLM_GROQ_FALLBACK_MODELS",
    "Groq models tried in order when the model is unavailable or decommissioned",
    ["meta-llama/llama-4-maverick-17b-128e-instruct"],
  ),
  openaiBaseUrl: str(
    "HOTPIN_LLM_OPENAI_BASE_URL",
    "",
    "OpenAI-compatible server base URL, e.g. http://127.0.0.1:8080/v1 (llama.cpp, LocalAI, Ollama); empty disables it",
  ),
  openaiApiKey: secret("HOTPIN_LLM_OPENAI_API_KEY", "API key for the OpenAI-compatible server, if it wants one"),
  openaiModel: str("HOTPIN_LLM_OPENAI_MODEL", "local-model", "model name sent to the OpenAI-compatible server"),
  openaiFallbackModels: list(
    "HOTPIN_LLM_OPENAI_FALLBACK_MODELS",
    "OpenAI-compatible models tried in order when the model is unavailable",
  ),
  openaiVision: bool("HOTPIN_LLM_OPENAI_VISION", true, "send the camera image to the OpenAI-compatible model"),
  providerOrder: list(
    "HOTPIN_LLM_PROVIDER_ORDER",
    "providers in the order tried (groq, openai); a configured provider not listed is not used",
    ["groq", "openai"],
  ),
  systemPrompt: str("HOTPIN_LLM_SYSTEM_PROMPT", DEFAULT_SYSTEM_PROMPT, "system prompt when a request has none"),
  temperature: num("HOTPIN_LLM_TEMPERATURE", 0.6, "sampling temperature", { min: 0, max: 2 }),
  defaultMaxOutputTokens: int("HOTPIN_LLM_MAX_OUTPUT_TOKENS", 300, "output tokens when a request asks for 0", {
    min: 1,
  }),
  maxOutputTokensCap: int("HOTPIN_LLM_MAX_OUTPUT_TOKENS_CAP", 1024, "largest output a request may ask for", { min: 1 }),
  maxHistoryTurns: int("HOTPIN_LLM_MAX_HISTORY_TURNS", 20, "newest history turns kept; older ones are dropped", {
    min: 0,
  }),
  maxHistoryChars: int("HOTPIN_LLM_MAX_HISTORY_CHARS", 16_000, "characters of history kept, newest first", { min: 0 }),
  maxUserTextChars: int("HOTPIN_LLM_MAX_USER_TEXT_CHARS", 4_000, "longest user text; longer is INVALID_ARGUMENT", {
    min: 1,
  }),
  maxImageBytes: int("HOTPIN_LLM_MAX_IMAGE_BYTES", 3 * 1024 * 1024, "largest image (Groq takes 4 MB base64)", {
    min: 1,
  }),
  maxConcurrentChats: int("HOTPIN_LLM_MAX_CONCURRENT_CHATS", 128, "chats at once; more get RESOURCE_EXHAUSTED", {
    min: 1,
  }),
  deadlineMs: int("HOTPIN_LLM_DEADLINE_MS", 60_000, "longest a chat may take, retries included", { min: 100 }),
  firstTokenTimeoutMs: int(
    "HOTPIN_LLM_FIRST_TOKEN_TIMEOUT_MS",
    20_000,
    "an attempt with no first token by then is abandoned and retried",
    { min: 50 },
  ),
  maxAttempts: int("HOTPIN_LLM_MAX_ATTEMPTS", 3, "attempts per model on retryable failures (1: no retry)", {
    min: 1,
    max: 10,
  }),
  retryBaseMs: int("HOTPIN_LLM_RETRY_BASE_MS", 250, "first backoff; doubles per attempt, full jitter", { min: 1 }),
  retryMaxMs: int("HOTPIN_LLM_RETRY_MAX_MS", 4_000, "longest backoff (a Retry-After may ask for more)", { min: 1 }),
  maxRetryAfterMs: int("HOTPIN_LLM_MAX_RETRY_AFTER_MS", 10_000, "longest Retry-After honoured; longer fails at once", {
    min: 0,
  }),
  breakerFailures: int("HOTPIN_LLM_BREAKER_FAILURES", 5, "consecutive provider failures that open its circuit", {
    min: 1,
  }),
  breakerOpenMs: int("HOTPIN_LLM_BREAKER_OPEN_MS", 30_000, "how long an open circuit fails fast before a trial", {
    min: 10,
  }),
  segmentMinChars: int("HOTPIN_LLM_SEGMENT_MIN_CHARS", 12, "shorter sentences are joined with the next", { min: 1 }),
  segmentMaxChars: int("HOTPIN_LLM_SEGMENT_MAX_CHARS", 240, "longest segment sent to speech", { min: 20 }),
};

export type ProviderName = "groq" | "openai";
export const providerNames = ["groq", "openai"] as const;
