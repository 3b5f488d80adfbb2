// The xiaozhi activation codes waiting for an operator and the devices bound so far, followed
// from the NATS KV buckets the edge keeps (services/edge-ws/src/xiaozhi-ota/bindings.ts), and the
// operator's acts on them: bind a code, pre-register a device id, unbind.
import {
  ActivationError,
  activateCode,
  BINDINGS_BUCKET,
  type Binding,
  CODES_BUCKET,
  getBinding,
  type PendingCode,
  putBinding,
  removeBinding,
} from "@hotpin/edge-ws/dist/xiaozhi-ota/bindings";
import { isValidDeviceId, type Logger } from "@hotpin/runtime";
import type { KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import type { BoundDeviceView, PendingCodeView } from "../api-types";
import { followBucket } from "../fleet/buckets";

/** The edge's code format (bindings.ts): six digits. */
export const ACTIVATION_CODE = /^[0-9]{6}$/;
const CODE_PREFIX = "code.";

export interface XiaozhiActivationOptions {
  /** Codes kept in memory (newest expiry first); older ones are not listed. */
  maxCodes: number;
  /** Bindings kept in memory (newest first); older ones are not listed but can still be unbound. */
  maxBindings: number;
  log: Logger;
  /** Something changed: the page refreshes. */
  onChange: () => void;
  now?: () => number;
}

/** Why an operator's act was refused; the API answers 404, 409 and 503 for these. */
export type RefusalKind = "unknown_code" | "already_bound" | "unavailable";
export class ActivationRefused extends Error {
  override name = "ActivationRefused";
  constructor(
    readonly kind: RefusalKind,
    message: string,
  ) {
    super(message);
  }
}

function parse<T>(text: string): T | undefined {
  try {
    const v = JSON.parse(text) as unknown;
    return v && typeof v === "object" ? (v as T) : undefined;
  } catch {
    return undefined;
  }
}

export class XiaozhiActivation {
  private codesKv: KV | undefined;
  private bindingsKv: KV | undefined;
  /** KV key → value; keys of bindings are hashes for long ids, so the value names the device. */
  private readonly codes = new Map<string, PendingCode>();
  private readonly bindings = new Map<string, Binding>();
  private truncated = false;
  private readonly abort = new AbortController();
  private readonly watchers: { stop(): void }[] = [];
  private readonly now: () => number;

  constructor(private readonly opts: XiaozhiActivationOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** Follows both buckets once the edge has created them (the console never creates them). */
  attach(nc: NatsConnection): void {
    const { maxCodes, maxBindings, log } = this.opts;
    followBucket(nc, CODES_BUCKET, this.abort.signal, log, (kv) => {
      this.codesKv = kv;
      return this.follow(kv, this.codes, this.readCode, maxCodes, (v) => v.expiresAt, `${CODE_PREFIX}>`);
    });
    followBucket(nc, BINDINGS_BUCKET, this.abort.signal, log, (kv) => {
      this.bindingsKv = kv;
      return this.follow(kv, this.bindings, this.readBinding, maxBindings, (v) => v.boundAt);
    });
  }

  stop(): void {
    this.abort.abort();
    for (const w of this.watchers) w.stop();
  }

  /** Undefined until the edge has created the buckets. */
  view(
    connected: (deviceId: string) => { connected: boolean; lastActivity?: number },
  ): { pendingCodes: PendingCodeView[]; bound: BoundDeviceView[]; truncated: boolean } | undefined {
    if (!this.codesKv || !this.bindingsKv) return undefined;
    this.dropExpired();
    const { maxCodes, maxBindings } = this.opts;
    const pendingCodes = [...this.codes.values()]
      .sort((a, b) => b.expiresAt - a.expiresAt)
      .slice(0, maxCodes)
      .map(({ code, deviceId, expiresAt }) => ({ code, deviceId, expiresAt }));
    const bound = [...this.bindings.values()]
      .sort((a, b) => b.boundAt - a.boundAt)
      .slice(0, maxBindings)
      .map((b) => ({
        deviceId: b.deviceId,
        boundAt: b.boundAt,
        by: b.by,
        pinned: b.clientId !== undefined,
        ...connected(b.deviceId),
      }));
    const truncated = this.truncated || this.codes.size > maxCodes || this.bindings.size > maxBindings;
    return { pendingCodes, bound, truncated };
  }

  /** Binds the device that was shown this code (as `hotpin activate <code>` does). */
  async bind(code: string): Promise<Binding> {
    const { codes, bindings } = this.buckets();
    let binding: Binding;
    try {
      binding = await activateCode(codes, bindings, code, this.now());
    } catch (err) {
      if (err instanceof ActivationError) {
        throw new ActivationRefused("unknown_code", "no such activation code (it may have expired)");
      }
      throw this.unavailable(err);
    }
    this.codes.delete(CODE_PREFIX + code);
    this.opts.onChange();
    return binding;
  }

  /** Pre-registers a device id (no code needed); refused when it is bound already. */
  async register(deviceId: string): Promise<Binding> {
    const { bindings } = this.buckets();
    const binding: Binding = { deviceId, boundAt: this.now(), by: "register" };
    try {
      if (await getBinding(bindings, deviceId)) {
        throw new ActivationRefused("already_bound", `${deviceId} is bound already; unbind it first`);
      }
      await putBinding(bindings, binding);
    } catch (err) {
      throw err instanceof ActivationRefused ? err : this.unavailable(err);
    }
    this.opts.onChange();
    return binding;
  }

  /** Forgets a binding (the device gets a code again); false when it was not bound. */
  async unbind(deviceId: string): Promise<boolean> {
    const { bindings } = this.buckets();
    try {
      const had = await removeBinding(bindings, deviceId);
      for (const [k, b] of this.bindings) if (b.deviceId === deviceId) this.bindings.delete(k);
      this.opts.onChange();
      return had;
    } catch (err) {
      throw this.unavailable(err);
    }
  }

  private buckets(): { codes: KV; bindings: KV } {
    if (!this.codesKv || !this.bindingsKv) {
      throw new ActivationRefused("unavailable", "the edge has not created the xiaozhi activation buckets yet");
    }
    return { codes: this.codesKv, bindings: this.bindingsKv };
  }

  private unavailable(err: unknown): ActivationRefused {
    this.opts.log.warn({ err: (err as Error).message }, "xiaozhi activation store not reachable");
    return new ActivationRefused("unavailable", "NATS could not be reached; retry");
  }

  private dropExpired(): void {
    const now = this.now();
    for (const [k, p] of this.codes) if (p.expiresAt <= now) this.codes.delete(k);
  }

  /**
   * Keeps the map near `max`, dropping the lowest-ranked entries; trims in batches (a quarter of
   * `max` of slack) so a large bucket's first read does not sort on every entry.
   */
  private bound<T>(map: Map<string, T>, max: number, rank: (v: T) => number): void {
    if (map.size <= max + Math.ceil(max / 4)) return;
    this.truncated = true;
    const oldest = [...map.entries()].sort((a, b) => rank(a[1]) - rank(b[1]));
    for (const [k] of oldest.slice(0, map.size - max)) map.delete(k);
  }

  /** A code entry as the edge writes it (bindings.ts), still valid; others are skipped. */
  private readCode = (key: string, text: string): PendingCode | undefined => {
    const p = parse<PendingCode>(text);
    if (!p || typeof p.code !== "string" || key !== CODE_PREFIX + p.code || !isValidDeviceId(p.deviceId)) return;
    // Entries expire by the bucket's TTL without a delete marker: expiresAt is checked on read too.
    return typeof p.expiresAt === "number" && p.expiresAt > this.now() ? p : undefined;
  };

  private readBinding = (_key: string, text: string): Binding | undefined => {
    const b = parse<Binding>(text);
    return b && isValidDeviceId(b.deviceId) && typeof b.boundAt === "number" ? b : undefined;
  };

  /** Mirrors the bucket's entries (under `key`) into `into`, kept within `max` by `rank`. */
  private async follow<T>(
    kv: KV,
    into: Map<string, T>,
    read: (key: string, text: string) => T | undefined,
    max: number,
    rank: (v: T) => number,
    key?: string,
  ): Promise<void> {
    const watch = await kv.watch(key ? { key } : {});
    if (this.abort.signal.aborted) return watch.stop();
    this.watchers.push(watch);
    this.opts.onChange();
    for await (const e of watch) {
      const v = e.operation === "PUT" ? read(e.key, e.string()) : undefined;
      if (v === undefined) into.delete(e.key);
      else {
        into.set(e.key, v);
        this.bound(into, max, rank);
      }
      this.opts.onChange();
    }
  }
}
