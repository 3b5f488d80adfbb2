import type { Logger } from "@hotpin/runtime";
import { type KV, Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";

/**
 * Opens a bucket the edge owns, without creating it (its limits are the edge's to set); waits
 * for it to exist, checking every `everyMs`, until `signal` aborts.
 */
export async function openExistingBucket(
  nc: NatsConnection,
  name: string,
  signal: AbortSignal,
  everyMs = 2000,
): Promise<KV | undefined> {
  const kvm = new Kvm(nc);
  while (!signal.aborted) {
    try {
      // open() does not look the bucket up; status() fails while it does not exist.
      const kv = await kvm.open(name);
      await kv.status();
      return kv;
    } catch {
      await new Promise((r) => setTimeout(r, everyMs).unref());
    }
  }
  return undefined;
}

/**
 * Follows a bucket the edge owns once it exists (the console may start before the first edge):
 * `watch` runs until its watch ends, which is logged, not thrown.
 */
export function followBucket(
  nc: NatsConnection,
  name: string,
  signal: AbortSignal,
  log: Logger,
  watch: (kv: KV) => Promise<void>,
): void {
  void openExistingBucket(nc, name, signal)
    .then((kv) => kv && watch(kv))
    .catch((err) => log.warn({ err: (err as Error).message, bucket: name }, "bucket watch ended"));
}
