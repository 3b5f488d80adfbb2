import { createHash, timingSafeEqual } from "node:crypto";

/** Longest device id accepted anywhere (storage keeps ids of at most this many characters). */
export const MAX_DEVICE_ID_CHARS = 128;

/** Printable ASCII without spaces, 1–128 characters: what every service stores and routes. */
const DEVICE_ID = /^[\x21-\x7e]{1,128}$/;

/** What a valid device id looks like, for protocol errors and usage lines. */
export const DEVICE_ID_RULE = `1-${MAX_DEVICE_ID_CHARS} printable ASCII characters without spaces`;

/** Whether a device id may be used as one: the one check at every entry point. */
export function isValidDeviceId(id: unknown): id is string {
  return typeof id === "string" && DEVICE_ID.test(id);
}

/** A device id that fails the rule, with the reason in the message. */
export class InvalidDeviceIdError extends Error {
  override name = "InvalidDeviceIdError";
  constructor() {
    super(`a device id must be ${DEVICE_ID_RULE}`);
  }
}

/** The id itself, or throws InvalidDeviceIdError. */
export function checkDeviceId(id: unknown): string {
  if (!isValidDeviceId(id)) throw new InvalidDeviceIdError();
  return id;
}

/** Ids that are already safe and short are used as they are, so subjects stay readable. */
const PLAIN_TOKEN = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * The device's token in NATS subjects and KV keys: the id itself when it is short and made of
 * [A-Za-z0-9_-], otherwise "=" and 22 base64url characters of its SHA-256 (132 bits). "=" never
 * starts a plain token, so the two forms cannot collide; either form is at most 64 characters,
 * whatever the id, and valid both as a subject token and as a KV key.
 */
export function subjectToken(id: string): string {
  if (PLAIN_TOKEN.test(id)) return id;
  return `=${createHash("sha256").update(id).digest("base64url").slice(0, 22)}`;
}

/**
 * Constant-time equality of two secrets of any lengths: both sides are hashed first, so neither
 * the time taken nor an early length check tells how much of a guess was right.
 */
export function secretsEqual(a: string, b: string): boolean {
  const x = createHash("sha256").update(a).digest();
  const y = createHash("sha256").update(b).digest();
  return timingSafeEqual(x, y);
}
