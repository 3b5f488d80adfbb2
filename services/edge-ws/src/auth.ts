import { createHmac, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";

/** Who a token lets in: any device (static token, auth off) or exactly one device (signed token). */
export type Grant = { kind: "any" } | { kind: "device"; deviceId: string };

export type AuthResult = { ok: true; grant: Grant } | { ok: false; reason: "missing" | "invalid" | "expired" };

export interface AuthOptions {
  enabled: boolean;
  staticTokens: string[];
  /** HMAC secret for signed tokens; empty disables them. */
  secret: string;
  now?: () => number;
}

const PREFIX = "hp1";

/**
 * Signed per-device token: hp1.<device id, base64url>.<expiry, unix seconds>.<HMAC-SHA256 of
 * both, base64url>. Stateless, so every edge replica can check it with the shared secret.
 */
export function issueToken(secret: string, deviceId: string, ttlSec: number, now = Date.now()): string {
  if (secret.length < 16) throw new Error("HOTPIN_TOKEN_SECRET must be at least 16 characters");
  if (!deviceId) throw new Error("a device id is required");
  const expiry = Math.floor(now / 1000) + ttlSec;
  const body = `${PREFIX}.${Buffer.from(deviceId).toString("base64url")}.${expiry}`;
  return `${body}.${sign(secret, body)}`;
}

function sign(secret: string, body: string): string {
  return createHmac("sha256", secret).update(body).digest("base64url");
}

/** Equal-length comparison in constant time; lengths differing is not secret. */
function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export class Authenticator {
  private readonly now: () => number;

  constructor(private readonly opts: AuthOptions) {
    this.now = opts.now ?? Date.now;
  }

  get enabled(): boolean {
    return this.opts.enabled;
  }

  check(token: string | undefined): AuthResult {
    if (!this.opts.enabled) return { ok: true, grant: { kind: "any" } };
    if (!token) return { ok: false, reason: "missing" };
    // Check every static token so the time taken does not tell which one nearly matched.
    let staticMatch = false;
    for (const t of this.opts.staticTokens) staticMatch = safeEqual(token, t) || staticMatch;
    if (staticMatch) return { ok: true, grant: { kind: "any" } };
    return this.checkSigned(token);
  }

  private checkSigned(token: string): AuthResult {
    const parts = token.split(".");
    if (!this.opts.secret || parts.length !== 4 || parts[0] !== PREFIX) return { ok: false, reason: "invalid" };
    const [, idPart, expiryPart, mac] = parts as [string, string, string, string];
    if (!safeEqual(mac, sign(this.opts.secret, `${PREFIX}.${idPart}.${expiryPart}`))) {
      return { ok: false, reason: "invalid" };
    }
    const expiry = Number(expiryPart);
    if (!Number.isInteger(expiry)) return { ok: false, reason: "invalid" };
    if (expiry * 1000 <= this.now()) return { ok: false, reason: "expired" };
    const deviceId = Buffer.from(idPart, "base64url").toString();
    return { ok: true, grant: { kind: "device", deviceId } };
  }
}

/** Whether a grant covers a device id claimed later in the handshake. */
export function grantCovers(grant: Grant, deviceId: string): boolean {
  return grant.kind === "any" || grant.deviceId === deviceId;
}

/** The token from `Authorization: Bearer x`, a bare `Authorization: x`, or `?token=x`. */
export function tokenFromRequest(req: IncomingMessage, url: URL): string | undefined {
  const header = req.headers.authorization?.trim();
  if (header) {
    const bearer = /^Bearer\s+(.+)$/i.exec(header);
    return bearer ? bearer[1]!.trim() : header;
  }
  return url.searchParams.get("token") ?? undefined;
}
