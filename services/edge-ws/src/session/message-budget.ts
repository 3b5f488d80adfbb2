/**
 * A connection's message allowance (HOTPIN_EDGE_MAX_MESSAGES_PER_SEC): a token bucket that
 * refills at `rate` per second and holds at most `rate`, so a short burst passes and a flood does not.
 */
export class MessageBudget {
  private tokens: number;
  private at: number;

  constructor(
    readonly rate: number,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = rate;
    this.at = now();
  }

  /** Spends one message; false (nothing spent) when the bucket is empty. */
  take(): boolean {
    const now = this.now();
    this.tokens = Math.min(this.rate, this.tokens + ((now - this.at) * this.rate) / 1000);
    this.at = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
