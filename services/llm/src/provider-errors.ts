/** What a failed provider call means for the chat. */
export type FailureKind = "retryable" | "model-unavailable" | "fatal";

/** Metric label for a failure; never carries provider text. */
export type FailureReason =
  | "rate_limited"
  | "server_error"
  | "network"
  | "timeout"
  | "model_unavailable"
  | "rejected"
  | "broken_stream";

export class ProviderError extends Error {
  override name = "ProviderError";
  constructor(
    message: string,
    readonly kind: FailureKind,
    readonly reason: FailureReason,
    readonly status: number | undefined,
    /** Wait the provider asked for (Retry-After), if any. */
    readonly retryAfterMs: number | undefined,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

interface SdkError {
  status?: number;
  headers?: { get(name: string): string | null } | undefined;
  error?: unknown;
  name?: string;
  message?: string;
}

const MODEL_GONE = /model_decommissioned|model_not_found|decommissioned|does not exist|not found|unknown model/i;

/**
 * Sorts an error of groq-sdk or openai (same shapes): 408/409/429/5xx and network failures can
 * be retried; a missing or retired model moves on to the fallback model; other 4xx are final.
 */
export function classifyProviderError(err: unknown, now = Date.now()): ProviderError {
  if (err instanceof ProviderError) return err;
  const e = (err ?? {}) as SdkError;
  const status = typeof e.status === "number" ? e.status : undefined;
  const retryAfterMs = parseRetryAfter(e.headers, now);
  const make = (kind: FailureKind, reason: FailureReason, what: string) =>
    new ProviderError(what, kind, reason, status, retryAfterMs, { cause: err });

  if (status === undefined) {
    const timeout = /timeout|timed out/i.test(`${e.name} ${e.message}`);
    return make("retryable", timeout ? "timeout" : "network", timeout ? "provider timed out" : "provider unreachable");
  }
  if (status === 429) return make("retryable", "rate_limited", "provider rate limit (429)");
  if (status === 408 || status === 409) return make("retryable", "timeout", `provider asked to retry (${status})`);
  if (status >= 500) return make("retryable", "server_error", `provider failed (${status})`);
  const code = errorCode(e.error);
  if (status === 404 || ((status === 400 || status === 410) && MODEL_GONE.test(code))) {
    return make("model-unavailable", "model_unavailable", `model unavailable (${status})`);
  }
  return make("fatal", "rejected", `provider rejected the request (${status})`);
}

/** The error code or message of an OpenAI-style error body, for model checks only (never logged). */
function errorCode(body: unknown): string {
  const b = body as { error?: { code?: unknown; message?: unknown }; code?: unknown; message?: unknown } | undefined;
  const inner = b?.error ?? b;
  return `${String(inner?.code ?? "")} ${String(inner?.message ?? "")}`;
}

/** Retry-After-Ms (OpenAI) or Retry-After in seconds (may be fractional) or as an HTTP date. */
export function parseRetryAfter(
  headers: { get(name: string): string | null } | undefined,
  now = Date.now(),
): number | undefined {
  if (!headers || typeof headers.get !== "function") return undefined;
  const ms = Number.parseFloat(headers.get("retry-after-ms") ?? "");
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const raw = headers.get("retry-after");
  if (!raw) return undefined;
  const seconds = Number(raw);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(raw);
  return Number.isFinite(date) ? Math.max(0, date - now) : undefined;
}
