/**
 * At most `limit` events per key in any sliding minute. The map is pruned of keys with nothing
 * recent once it grows, so a scan of many addresses cannot grow it without bound.
 */
export class PerMinuteLimit {
  private readonly recent = new Map<string, number[]>();

  constructor(
    private readonly limit: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Counts one event for `key`; false (and not counted) when the key is over its limit. */
  take(key: string): boolean {
    const now = this.now();
    const windowStart = now - 60_000;
    if (this.recent.size > 10_000) {
      for (const [k, times] of this.recent) if ((times.at(-1) ?? 0) <= windowStart) this.recent.delete(k);
    }
    const times = (this.recent.get(key) ?? []).filter((t) => t > windowStart);
    const ok = times.length < this.limit;
    if (ok) times.push(now);
    this.recent.set(key, times);
    return ok;
  }
}
