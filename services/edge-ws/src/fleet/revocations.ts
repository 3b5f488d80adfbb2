import type { Logger } from "@hotpin/runtime";
import type { KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { openBucket } from "./kv-bucket";

export const REVOKED_BUCKET = "hotpin_revoked_tokens";

/** Token ids are 16 random bytes in base64url: valid KV keys as they are. */
const TOKEN_ID = /^[A-Za-z0-9_-]{16,64}$/;

/** Opens (or creates) the deny list; entries live as long as the longest token may. */
export function openRevocations(nc: NatsConnection, maxTtlSec: number): Promise<KV> {
  return openBucket(nc, REVOKED_BUCKET, {
    ttl: maxTtlSec * 1000,
    history: 1,
    maxValueSize: 256,
    description: "HotPin: device token ids (jti) refused before their expiry",
  });
}

/** Puts one token id on the deny list until `untilMs` (its expiry). */
export async function revokeToken(kv: KV, tokenId: string, untilMs: number): Promise<void> {
  if (!TOKEN_ID.test(tokenId)) throw new Error("not a token id (jti)");
  await kv.put(tokenId, JSON.stringify({ until: untilMs }));
}

/**
 * Revocation of single device tokens through a NATS KV deny list every replica watches: the
 * check stays local and synchronous, a revocation reaches every replica within a round trip,
 * and entries fall away once the token would have expired anyway. Until NATS is first reached
 * the list is empty (revoked tokens are refused from then on).
 */
export class TokenRevocations {
  private readonly denied = new Map<string, number>();
  private watcher: { stop(): void } | undefined;

  constructor(
    private readonly maxTtlSec: number,
    private readonly log: Logger,
  ) {}

  async attach(nc: NatsConnection): Promise<void> {
    const kv = await openRevocations(nc, this.maxTtlSec);
    const watch = await kv.watch();
    this.watcher = watch;
    void (async () => {
      for await (const e of watch) {
        if (e.operation !== "PUT") {
          this.denied.delete(e.key);
          continue;
        }
        let until = Date.now() + this.maxTtlSec * 1000;
        try {
          const v = JSON.parse(e.string()) as { until?: unknown };
          if (typeof v.until === "number") until = v.until;
        } catch {
          // an entry without its expiry is kept for the longest token life
        }
        this.denied.set(e.key, until);
      }
    })().catch((err) => this.log.warn({ err: (err as Error).message }, "revocation watch ended"));
  }

  /** Whether the token id is revoked now; entries past their token's expiry are forgotten. */
  has(tokenId: string): boolean {
    const until = this.denied.get(tokenId);
    if (until === undefined) return false;
    if (until < Date.now()) {
      this.denied.delete(tokenId);
      return false;
    }
    return true;
  }

  stop(): void {
    this.watcher?.stop();
  }
}
