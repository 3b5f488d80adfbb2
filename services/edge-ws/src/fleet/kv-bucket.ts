import { subjectToken } from "@hotpin/runtime";
import { type KV, Kvm, type KvOptions } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";

/** Creates the bucket with these limits, or opens it as it is when it exists already. */
export async function openBucket(nc: NatsConnection, name: string, opts: Partial<KvOptions>): Promise<KV> {
  const kvm = new Kvm(nc);
  try {
    return await kvm.create(name, opts);
  } catch {
    return await kvm.open(name, opts);
  }
}

/**
 * A device's KV key: its subject token (the id itself when short and plain, a hash otherwise),
 * so keys stay short and valid for any valid device id. Not reversible: the value names the device.
 */
export function deviceKey(deviceId: string): string {
  return subjectToken(deviceId);
}
