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
/** Told when a device's active session on this process changes (ownership, command routing). */
export interface RegistryListener<T extends Claimant> {
  claimed(deviceId: string, session: T): void;
  released(deviceId: string, session: T): void;
}

export class DeviceRegistry<T extends Claimant = Claimant> {
  private readonly active = new Map<string, T>();
  private readonly listeners: RegistryListener<T>[] = [];
  private readonly interrupted = new Map<string, number>();

  constructor(
    private readonly interruptedTtlMs = 10 * 60_000,
    private readonly maxInterrupted = 10_000,
  ) {}

  get size(): number {
    return this.active.size;
  }

  listen(listener: RegistryListener<T>): void {
    this.listeners.push(listener);
  }

  claim(deviceId: string, session: T): T | undefined {
    const previous = this.active.get(deviceId);
    this.active.set(deviceId, session);
    if (previous && previous !== session) previous.replace();
    for (const l of this.listeners) l.claimed(deviceId, session);
    return previous === session ? undefined : previous;
  }

  release(deviceId: string, session: T): void {
    if (this.active.get(deviceId) !== session) return;
    this.active.delete(deviceId);
    for (const l of this.listeners) l.released(deviceId, session);
  }

  get(deviceId: string): T | undefined {
    return this.active.get(deviceId);
  }

  sessions(): T[] {
    return [...this.active.values()];
  }

  entries(): [string, T][] {
    return [...this.active.entries()];
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
