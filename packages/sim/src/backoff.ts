export interface BackoffOptions {
  /** First delay; doubles on every consecutive failure. */
  baseMs: number;
  capMs: number;
  /** Fraction of the delay that is randomised (0 = none, 1 = anywhere in [0, delay]). */
  jitter: number;
}

/** Seed 002's client: 1 s doubling up to 60 s. */
export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 1000, capMs: 60_000, jitter: 0.5 };

/**
 * Delay before reconnect attempt `attempt` (0-based). Jitter only shortens the delay, so a fleet
 * that dropped together spreads out without ever waiting longer than the cap.
 */
export function backoffDelayMs(attempt: number, opts: BackoffOptions, random: () => number = Math.random): number {
  const delay = Math.min(opts.capMs, opts.baseMs * 2 ** attempt);
  return Math.round(delay * (1 - opts.jitter * random()));
}
