import type { Logger } from "@hotpin/runtime";
import type { KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import type { EdgeMetrics } from "../metrics";
import { deviceKey, openBucket } from "./kv-bucket";

export const OWNER_BUCKET = "hotpin_device_owners";

/** Who holds a device's connection: the value of its entry in the owner bucket. */
export interface Owner {
  instance: string;
  sessionId: string;
  since: number;
}

interface Held {
  sessionId: string;
  since: number;
  /** KV revision of our last write; undefined until written. */
  revision: number | undefined;
  /** The takeover write succeeded once; from then on, another owner means this one lost. */
  confirmed: boolean;
}

/**
 * One session per device across replicas, in a NATS KV bucket whose TTL is the lease. A replica
 * that gets a device's connection takes the entry over with compare-and-set (the newest
 * connection wins, as within one process), renews it every third of the lease with
 * compare-and-set on its own revision, and deletes it (only if still its own) when the session
 * ends. A replica that sees its device taken elsewhere (watch, or a failed renewal) is told
 * through `onLost` and closes its session with 4001. A replica that dies loses its entries
 * after one lease.
 */
export class DeviceOwnership {
  private kv: KV | undefined;
  private readonly held = new Map<string, Held>();
  /** KV key → device id of what is held (keys of long ids are hashes). */
  private readonly byKey = new Map<string, string>();
  private readonly chains = new Map<string, Promise<void>>();
  private renewTimer: NodeJS.Timeout | undefined;
  private watcher: { stop(): void } | undefined;
  private stopped = false;

  constructor(
    private readonly instance: string,
    private readonly leaseMs: number,
    private readonly log: Logger,
    private readonly metrics: EdgeMetrics,
    private readonly onLost: (deviceId: string, sessionId: string, by: Owner) => void,
    private readonly replicas = 1,
  ) {}

  async attach(nc: NatsConnection): Promise<void> {
    this.kv = await openBucket(nc, OWNER_BUCKET, {
      ttl: this.leaseMs,
      history: 1,
      replicas: this.replicas,
      maxValueSize: 1024,
      description: "HotPin: which edge replica holds each device's connection",
    });
    const watch = await this.kv.watch({ include: "updates" });
    this.watcher = watch;
    void (async () => {
      for await (const e of watch) {
        const deviceId = this.byKey.get(e.key);
        const mine = deviceId === undefined ? undefined : this.held.get(deviceId);
        // The bucket's revision order is the truth: only a write after ours takes the device away.
        // Checked first: every claim and release of every replica comes by, nearly all of them
        // our own or of devices we do not hold, and reading an entry's operation parses its headers.
        if (mine?.revision === undefined || e.revision <= mine.revision || e.operation !== "PUT") continue;
        const owner = parseOwner(e.string());
        if (owner && owner.sessionId !== mine.sessionId) this.lost(deviceId as string, owner);
      }
    })().catch((err) => this.log.warn({ err: (err as Error).message }, "ownership watch ended"));
    for (const deviceId of this.held.keys()) this.enqueue(deviceId, () => this.write(deviceId, true));
    this.renewTimer = setInterval(() => this.renew(), Math.floor(this.leaseMs / 3));
    this.renewTimer.unref();
  }

  get size(): number {
    return this.held.size;
  }

  /** This replica's session now holds the device; takes the entry over from anyone. */
  claim(deviceId: string, sessionId: string): Promise<void> {
    // A session of ours replaced here: the entry is still the one we wrote.
    const revision = this.held.get(deviceId)?.revision;
    this.held.set(deviceId, { sessionId, since: Date.now(), revision, confirmed: false });
    this.byKey.set(deviceKey(deviceId), deviceId);
    return this.enqueue(deviceId, () => this.write(deviceId, true));
  }

  /** The session ended: deletes the entry if it is still this session's. */
  release(deviceId: string, sessionId: string): Promise<void> {
    const mine = this.held.get(deviceId);
    if (!mine || mine.sessionId !== sessionId) return Promise.resolve();
    this.held.delete(deviceId);
    this.byKey.delete(deviceKey(deviceId));
    return this.enqueue(deviceId, async () => {
      if (!this.kv || mine.revision === undefined || this.held.has(deviceId)) return;
      await this.kv.delete(deviceKey(deviceId), { previousSeq: mine.revision }).catch(() => undefined);
      this.metrics.ownership.inc({ kind: "released" });
    });
  }

  /** The replica holding a device now, per the bucket; undefined when nobody does (or NATS is away). */
  async owner(deviceId: string): Promise<Owner | undefined> {
    if (!this.kv) return undefined;
    const e = await this.kv.get(deviceKey(deviceId)).catch(() => null);
    return e && e.operation === "PUT" ? parseOwner(e.string()) : undefined;
  }

  /** Drain: waits for pending writes and deletes every entry still ours. */
  async releaseAll(): Promise<void> {
    clearInterval(this.renewTimer);
    const held = [...this.held.entries()];
    await Promise.all(held.map(([deviceId, h]) => this.release(deviceId, h.sessionId)));
    await Promise.all([...this.chains.values()]);
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.renewTimer);
    this.watcher?.stop();
  }

  private enqueue(deviceId: string, op: () => Promise<void>): Promise<void> {
    const prev = this.chains.get(deviceId) ?? Promise.resolve();
    const next = prev.then(op).catch((err) => {
      this.log.warn({ err: (err as Error).message }, "device ownership not written; retried at the next renewal");
    });
    this.chains.set(deviceId, next);
    void next.then(() => {
      if (this.chains.get(deviceId) === next) this.chains.delete(deviceId);
    });
    return next;
  }

  /**
   * Compare-and-set write of our claim on the revision just read. A new connection (`takeover`)
   * replaces whoever is there; a renewal that finds another session there has lost the device.
   */
  private async write(deviceId: string, takeover: boolean): Promise<void> {
    const kv = this.kv;
    const mine = this.held.get(deviceId);
    if (!kv || !mine || this.stopped) return;
    const key = deviceKey(deviceId);
    const value = this.entry(deviceId, mine);
    // First as if nobody else wrote: no entry at all (a new device) or our own last write (the
    // device reconnecting here), one round trip. Only when that fails is the entry read.
    if (takeover) {
      const known = mine.revision;
      try {
        mine.revision =
          known === undefined ? await kv.put(key, value, { previousSeq: 0 }) : await kv.update(key, value, known);
        mine.confirmed = true;
        this.metrics.ownership.inc({ kind: known === undefined ? "claimed" : "takeover" });
        return;
      } catch {
        // someone else's entry (or a delete marker, or NATS away): the read below says which
      }
    }
    for (let attempt = 0; attempt < 5; attempt++) {
      const current = await kv.get(key);
      const owner = current?.operation === "PUT" ? parseOwner(current.string()) : undefined;
      if (owner && owner.sessionId !== mine.sessionId && !takeover) {
        this.lost(deviceId, owner);
        return;
      }
      try {
        // On the entry's last revision, whatever it is (a delete marker included); none: create.
        mine.revision = current
          ? await kv.update(key, value, current.revision)
          : await kv.put(key, value, { previousSeq: 0 });
        mine.confirmed = true;
        if (owner && owner.sessionId !== mine.sessionId) this.metrics.ownership.inc({ kind: "takeover" });
        else if (!owner) this.metrics.ownership.inc({ kind: "claimed" });
        return;
      } catch {
        // Someone wrote in between: read again and decide again.
      }
    }
    throw new Error("ownership entry kept changing");
  }

  /** The KV entry of our claim (parseOwner reads it back). */
  private entry(deviceId: string, mine: Held): string {
    return JSON.stringify({ deviceId, instance: this.instance, sessionId: mine.sessionId, since: mine.since });
  }

  /** Every third of the lease: our revision or nothing (a takeover in between means we lost). */
  private renew(): void {
    for (const [deviceId, mine] of this.held) {
      this.enqueue(deviceId, async () => {
        const kv = this.kv;
        if (!kv || this.held.get(deviceId) !== mine) return;
        if (mine.revision === undefined) return this.write(deviceId, !mine.confirmed);
        const value = this.entry(deviceId, mine);
        try {
          mine.revision = await kv.update(deviceKey(deviceId), value, mine.revision);
        } catch {
          // Expired while NATS was away (ours to take again) or taken (lost): write() decides.
          mine.revision = undefined;
          await this.write(deviceId, false);
        }
      });
    }
  }

  private lost(deviceId: string, by: Owner): void {
    const mine = this.held.get(deviceId);
    if (!mine) return;
    this.held.delete(deviceId);
    this.byKey.delete(deviceKey(deviceId));
    this.metrics.ownership.inc({ kind: "lost" });
    this.onLost(deviceId, mine.sessionId, by);
  }
}

function parseOwner(text: string): Owner | undefined {
  try {
    const v = JSON.parse(text) as Owner;
    return typeof v.instance === "string" && typeof v.sessionId === "string" ? v : undefined;
  } catch {
    return undefined;
  }
}
