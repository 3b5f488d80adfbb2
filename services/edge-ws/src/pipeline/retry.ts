import { grpc } from "@hotpin/runtime";
import { grpcCode } from "./stage-error";

/** How a refused call is tried again: a bounded number of times, exponential backoff, full jitter. */
export interface RetryPolicy {
  /** Retries after the first try (0: none). */
  retries: number;
  baseMs: number;
  capMs: number;
}

/** A service that said "not now" (full pool, restarting replica): worth trying again soon. */
export function isRefusal(err: unknown): boolean {
  const code = grpcCode(err);
  return code === grpc.status.RESOURCE_EXHAUSTED || code === grpc.status.UNAVAILABLE;
}

/** Full jitter: uniform in [0, min(cap, base·2^n)], so refused callers do not come back together. */
export function backoffMs(retry: number, policy: RetryPolicy, random: () => number = Math.random): number {
  return Math.floor(random() * Math.min(policy.capMs, policy.baseMs * 2 ** retry));
}

export interface RetryHooks {
  /** Called for every refusal (including the last one, which is thrown). */
  onRefused?: (err: unknown) => void;
  /** Called before each retry is scheduled. */
  onRetry?: (retry: number, delayMs: number) => void;
}

/**
 * Calls `attempt(remainingMs)` until it succeeds, fails with something other than a refusal, the
 * retries are spent, or the next wait would pass the deadline; then the last error is thrown.
 */
export async function retryRefused<T>(
  attempt: (remainingMs: number) => Promise<T>,
  policy: RetryPolicy,
  deadlineAt: number,
  hooks: RetryHooks = {},
): Promise<T> {
  for (let retry = 0; ; retry++) {
    try {
      return await attempt(Math.max(1, deadlineAt - Date.now()));
    } catch (err) {
      if (!isRefusal(err)) throw err;
      hooks.onRefused?.(err);
      const delay = backoffMs(retry, policy);
      if (retry >= policy.retries || Date.now() + delay >= deadlineAt) throw err;
      hooks.onRetry?.(retry + 1, delay);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

/** The edge's one policy for refused STT and TTS calls, from its settings. */
export function retryPolicy(cfg: { refusedRetries: number; retryBaseMs: number; retryMaxMs: number }): RetryPolicy {
  return { retries: cfg.refusedRetries, baseMs: cfg.retryBaseMs, capMs: cfg.retryMaxMs };
}
