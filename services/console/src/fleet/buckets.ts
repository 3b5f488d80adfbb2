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
      return await kvm.open(name);
    } catch {
      await new Promise((r) => setTimeout(r, everyMs).unref());
    }
  }
  return undefined;
}
