export type CircuitState = "closed" | "open" | "half-open";

export interface BreakerOptions {
  /** Consecutive failures that open the circuit. */
  failureThreshold: number;
  /** Time the circuit stays open before one trial call is let through. */
  openMs: number;
  now?: () => number;
  onStateChange?: (state: CircuitState) => void;
}

/**
 * A circuit breaker per provider so a dead provider fails fast: closed → open after N
 * consecutive failures → half-open after `openMs`, letting exactly one trial through →
 * closed on its success, open again on its failure.
 */
export class CircuitBreaker {
  private current: CircuitState = "closed";
  private failures = 0;
  private openedAt = 0;
  private trialInFlight = false;
  private readonly now: () => number;

  constructor(private readonly options: BreakerOptions) {
    this.now = options.now ?? Date.now;
  }

  get state(): CircuitState {
    return this.current;
  }

  /** Asks to make a call. In half-open, only the first caller gets the trial. */
  tryAcquire(): boolean {
    if (this.current === "open" && this.now() - this.openedAt >= this.options.openMs) this.set("half-open");
    if (this.current === "closed") return true;
    if (this.current === "half-open" && !this.trialInFlight) {
      this.trialInFlight = true;
      return true;
    }
    return false;
  }

  /** The provider answered (even with a final 4xx): it is alive. */
  onSuccess(): void {
    this.failures = 0;
    this.trialInFlight = false;
    if (this.current !== "closed") this.set("closed");
  }

  onFailure(): void {
    this.trialInFlight = false;
    this.failures++;
    if (this.current === "half-open" || this.failures >= this.options.failureThreshold) {
      this.openedAt = this.now();
      if (this.current !== "open") this.set("open");
    }
  }

  /** The call ended without telling anything about the provider (cancelled): free the trial. */
  release(): void {
    this.trialInFlight = false;
  }

  /** Milliseconds until an open circuit lets a trial through. */
  retryInMs(): number {
    return this.current === "open" ? Math.max(0, this.openedAt + this.options.openMs - this.now()) : 0;
  }

  private set(state: CircuitState): void {
    this.current = state;
    this.options.onStateChange?.(state);
  }
}
