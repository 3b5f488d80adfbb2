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

/** KV keys allow [-/_=.A-Za-z0-9]; a device id may hold anything, so it is base64url-encoded. */
export function deviceKey(deviceId: string): string {
  return Buffer.from(deviceId).toString("base64url") || "_";
}

export function deviceFromKey(key: string): string {
  return Buffer.from(key, "base64url").toString();
}
