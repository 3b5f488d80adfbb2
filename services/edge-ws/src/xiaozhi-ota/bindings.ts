// Which xiaozhi devices an operator has bound, and the activation codes waiting for an operator,
// in NATS KV so every edge replica (and the `hotpin` CLI) sees them and they outlive restarts.
import { isValidDeviceId } from "@hotpin/runtime";
import type { KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { deviceKey, openBucket } from "../fleet/kv-bucket";

export const BINDINGS_BUCKET = "hotpin_xiaozhi_bindings";
export const CODES_BUCKET = "hotpin_xiaozhi_codes";

/** A bound device. `clientId` pins the board's NVS UUID: the MAC alone is no secret. */
export interface Binding {
  deviceId: string;
  /** Undefined for a pre-registered device until its first OTA check pins it. */
  clientId?: string;
  boundAt: number;
  by: "code" | "register";
}

/** A code shown to a device, waiting for `hotpin activate <code>`. */
export interface PendingCode {
  code: string;
  deviceId: string;
  clientId: string;
  challenge: string;
  expiresAt: number;
}

export class ActivationError extends Error {
  override name = "ActivationError";
}

const CODE = /^[0-9]{6}$/;
const codeKey = (code: string) => `code.${code}`;
const deviceCodeKey = (deviceId: string) => `device.${deviceKey(deviceId)}`;

export function openBindings(nc: NatsConnection, replicas = 1): Promise<KV> {
  return openBucket(nc, BINDINGS_BUCKET, {
    history: 1,
    replicas,
    maxValueSize: 1024,
    description: "HotPin: xiaozhi devices bound by an operator (code or pre-registration)",
  });
}

/** Entries expire with the code; the bucket's TTL is the configured code lifetime when it is created. */
export function openCodes(nc: NatsConnection, ttlSec: number, replicas = 1): Promise<KV> {
  return openBucket(nc, CODES_BUCKET, {
    ttl: ttlSec * 1000,
    history: 1,
    replicas,
    maxValueSize: 1024,
    description: "HotPin: xiaozhi activation codes waiting for an operator",
  });
}

function parse<T>(text: string): T | undefined {
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}

export async function getBinding(kv: KV, deviceId: string): Promise<Binding | undefined> {
  const e = await kv.get(deviceKey(deviceId));
  if (e?.operation !== "PUT") return undefined;
  const b = parse<Binding>(e.string());
  // The key is a hash for long ids: the value must name this very device.
  return b?.deviceId === deviceId ? b : undefined;
}

export async function putBinding(kv: KV, binding: Binding): Promise<void> {
  if (!isValidDeviceId(binding.deviceId)) throw new ActivationError("not a valid device id");
  await kv.put(deviceKey(binding.deviceId), JSON.stringify(binding));
}

/** Pins the client id of a pre-registered device on its first OTA check (compare-and-set). */
export async function pinClientId(kv: KV, deviceId: string, clientId: string): Promise<Binding | undefined> {
  const e = await kv.get(deviceKey(deviceId));
  if (e?.operation !== "PUT") return undefined;
  const b = parse<Binding>(e.string());
  if (b?.deviceId !== deviceId) return undefined;
  if (b.clientId !== undefined) return b;
  const pinned = { ...b, clientId };
  try {
    await kv.update(deviceKey(deviceId), JSON.stringify(pinned), e.revision);
    return pinned;
  } catch {
    return getBinding(kv, deviceId); // another replica pinned it first
  }
}

export async function removeBinding(kv: KV, deviceId: string): Promise<boolean> {
  const had = (await getBinding(kv, deviceId)) !== undefined;
  await kv.delete(deviceKey(deviceId));
  return had;
}

/** The device's code while it is valid, so repeated OTA checks read out the same code. */
export async function codeOfDevice(kv: KV, deviceId: string, now = Date.now()): Promise<PendingCode | undefined> {
  const e = await kv.get(deviceCodeKey(deviceId));
  if (e?.operation !== "PUT") return undefined;
  const code = e.string();
  if (!CODE.test(code)) return undefined;
  const pending = await lookupCode(kv, code, now);
  return pending?.deviceId === deviceId ? pending : undefined;
}

export async function lookupCode(kv: KV, code: string, now = Date.now()): Promise<PendingCode | undefined> {
  if (!CODE.test(code)) return undefined;
  const e = await kv.get(codeKey(code));
  if (e?.operation !== "PUT") return undefined;
  const p = parse<PendingCode>(e.string());
  return p && p.code === code && p.expiresAt > now && isValidDeviceId(p.deviceId) ? p : undefined;
}

/** Stores a new code; false when the code is taken (the caller draws another). */
export async function createCode(kv: KV, pending: PendingCode): Promise<boolean> {
  try {
    await kv.create(codeKey(pending.code), JSON.stringify(pending));
  } catch {
    const existing = await lookupCode(kv, pending.code);
    if (existing) return false;
    // An expired entry still in the bucket: replace it.
    await kv.put(codeKey(pending.code), JSON.stringify(pending));
  }
  await kv.put(deviceCodeKey(pending.deviceId), pending.code);
  return true;
}

/**
 * `hotpin activate <code>`: binds the device that was shown the code, pinned to the client id it
 * asked with, and retires the code. Throws ActivationError for an unknown or expired code.
 */
export async function activateCode(codes: KV, bindings: KV, code: string, now = Date.now()): Promise<Binding> {
  if (!CODE.test(code.trim())) throw new ActivationError("an activation code is six digits");
  const pending = await lookupCode(codes, code.trim(), now);
  if (!pending) throw new ActivationError("no such activation code (it may have expired)");
  const binding: Binding = { deviceId: pending.deviceId, clientId: pending.clientId, boundAt: now, by: "code" };
  await putBinding(bindings, binding);
  await codes.delete(codeKey(pending.code));
  await codes.delete(deviceCodeKey(pending.deviceId));
  return binding;
}
