/** What the registry needs from a session. */
export interface Claimant {
  readonly id: string;
  /** Ends the session because another connection took the device over. */
  replace(): void;
}

/**
 * One active session per device id in this process. A new connection for a device that is
 * already connected REPLACES the old one (closed with 4001): a device back from a network
 * drop must not be locked out until its dead socket times out, and both connections passed
 * the same authentication for that device. Also remembers devices whose recording was cut by
 * a disconnect, so their next connection is asked to record again.
 */
export class DeviceRegistry {
  private readonly active = new Map<string, Claimant>();
  private readonly interrupted = new Map<string, number>();

  constructor(
    private readonly interruptedTtlMs = 10 * 60_000,
    private readonly maxInterrupted = 10_000,
  ) {}

  get size(): number {
    return this.active.size;
  }

  claim(deviceId: string, session: Claimant): Claimant | undefined {
    const previous = this.active.get(deviceId);
    this.active.set(deviceId, session);
    if (previous && previous !== session) previous.replace();
    return previous === session ? undefined : previous;
  }

  release(deviceId: string, session: Claimant): void {
    if (this.active.get(deviceId) === session) this.active.delete(deviceId);
  }

  get(deviceId: string): Claimant | undefined {
    return this.active.get(deviceId);
  }

  sessions(): Claimant[] {
    return [...this.active.values()];
  }

  markInterrupted(deviceId: string, now = Date.now()): void {
    if (this.interrupted.size >= this.maxInterrupted) {
      const oldest = this.interrupted.keys().next().value;
      if (oldest !== undefined) this.interrupted.delete(oldest);
    }
    this.interrupted.set(deviceId, now);
  }

  /** True once if the device's last recording was cut by a disconnect not long ago. */
  takeInterrupted(deviceId: string, now = Date.now()): boolean {
    const at = this.interrupted.get(deviceId);
    this.interrupted.delete(deviceId);
    return at !== undefined && now - at <= this.interruptedTtlMs;
  }
}
