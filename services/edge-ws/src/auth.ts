import { createHash, createSecretKey, type KeyObject, randomBytes } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { ConfigError, DEVICE_ID_RULE, isValidDeviceId, secretsEqual } from "@hotpin/runtime";
import { decodeProtectedHeader, errors, jwtVerify, SignJWT } from "jose";

/** Who a token lets in: any device (static token, auth off) or exactly one device (device token). */
export type Grant = { kind: "any" } | { kind: "device"; deviceId: string; tokenId: string };

export type AuthResult =
  | { ok: true; grant: Grant }
  | { ok: false; reason: "missing" | "invalid" | "expired" | "revoked" };

export interface AuthOptions {
  enabled: boolean;
  staticTokens: string[];
  /** Secret device tokens are signed with (HS256); empty disables them. */
  secret: string;
  /** Older secrets whose tokens are still accepted, so a secret rotates without revoking every device. */
  previousSecrets?: string[];
  /** Longest lifetime (exp − iat) a token may have, checked whatever the issuer chose. */
  maxTtlSec: number;
  /** Whether a token id is on the deny list. */
  revoked?: (tokenId: string) => boolean;
  now?: () => number;
}

const ISSUER = "hotpin";
const AUDIENCE = "hotpin-edge";
/** A compact JWS: three base64url parts, bounded so a huge header costs nothing. */
const JWT_SHAPE = /^[A-Za-z0-9_-]{1,1024}\.[A-Za-z0-9_-]{1,2048}\.[A-Za-z0-9_-]{1,512}$/;

/** HS256 wants a key as long as its hash: 32 characters, and not a run of one character. */
export const MIN_SECRET_CHARS = 32;
const MIN_DISTINCT_CHARS = 10;

/** Default and example tokens from firmware, docs and tutorials: refused unless allowed. */
const WELL_KNOWN_TOKENS = new Set([
  "your_api_token_here",
  "your-api-token",
  "your_token_here",
  "changeme",
  "change-me",
  "token",
  "secret",
  "password",
  "test",
  "default",
  "admin",
  "hotpin",
]);

/** The key id a secret's tokens carry: derived from the secret, so nobody has to name keys. */
export function keyId(secret: string): string {
  return createHash("sha256").update(`hotpin-token-key:${secret}`).digest("base64url").slice(0, 12);
}

function secretKey(secret: string): KeyObject {
  return createSecretKey(Buffer.from(secret, "utf8"));
}

/** Why a secret is too weak to sign tokens with; undefined when it is fine. */
export function weakSecret(secret: string): string | undefined {
  if (secret.length < MIN_SECRET_CHARS || new Set(secret).size < MIN_DISTINCT_CHARS) {
    return `must be at least ${MIN_SECRET_CHARS} characters with ${MIN_DISTINCT_CHARS} different ones (e.g. openssl rand -base64 32)`;
  }
  return undefined;
}

/**
 * A device token: a standard JWT (HS256) with `sub` = device id, `iat`, `exp`, a random `jti`
 * (what revocation names) and the signing key's `kid`. Stateless, so every edge replica checks
 * it with the shared secret; any JWT library (or a client that only decodes it) reads it.
 */
export async function issueToken(secret: string, deviceId: string, ttlSec: number, now = Date.now()): Promise<string> {
  const weak = weakSecret(secret);
  if (weak) throw new Error(`HOTPIN_TOKEN_SECRET ${weak}`);
  if (!isValidDeviceId(deviceId)) throw new Error(`a device id must be ${DEVICE_ID_RULE}`);
  if (!Number.isInteger(ttlSec) || ttlSec < 1) throw new Error("the lifetime must be a whole number of seconds");
  const iat = Math.floor(now / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: "HS256", typ: "JWT", kid: keyId(secret) })
    .setSubject(deviceId)
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt(iat)
    .setExpirationTime(iat + ttlSec)
    .setJti(randomBytes(16).toString("base64url"))
    .sign(secretKey(secret));
}

/** Start-up checks of every credential setting; throws one ConfigError naming each problem. */
export function checkCredentials(cfg: {
  tokenSecret: string;
  tokenPreviousSecrets: string[];
  deviceTokens: string[];
  observerTokens: string[];
  allowWellKnownTokens: boolean;
}): void {
  const problems: string[] = [];
  if (cfg.tokenSecret) {
    const weak = weakSecret(cfg.tokenSecret);
    if (weak) problems.push(`HOTPIN_TOKEN_SECRET ${weak}`);
  }
  for (const s of cfg.tokenPreviousSecrets) {
    const weak = weakSecret(s);
    if (weak) problems.push(`HOTPIN_TOKEN_PREVIOUS_SECRETS: each ${weak}`);
  }
  if (!cfg.allowWellKnownTokens) {
    for (const [name, tokens] of [
      ["HOTPIN_DEVICE_TOKENS", cfg.deviceTokens],
      ["HOTPIN_EDGE_OBSERVER_TOKENS", cfg.observerTokens],
    ] as const) {
      if (tokens.some((t) => WELL_KNOWN_TOKENS.has(t.toLowerCase()))) {
        problems.push(
          `${name} holds a well-known default token; set a random one (or HOTPIN_EDGE_ALLOW_WELL_KNOWN_TOKENS=true)`,
        );
      }
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
}

export class Authenticator {
  private readonly now: () => number;
  private readonly keys = new Map<string, KeyObject>();

  constructor(private readonly opts: AuthOptions) {
    this.now = opts.now ?? Date.now;
    for (const s of [opts.secret, ...(opts.previousSecrets ?? [])]) if (s) this.keys.set(keyId(s), secretKey(s));
  }

  get enabled(): boolean {
    return this.opts.enabled;
  }

  async check(token: string | undefined): Promise<AuthResult> {
    if (!this.opts.enabled) return { ok: true, grant: { kind: "any" } };
    if (!token) return { ok: false, reason: "missing" };
    // Check every static token so the time taken does not tell which one nearly matched.
    let staticMatch = false;
    for (const t of this.opts.staticTokens) staticMatch = secretsEqual(token, t) || staticMatch;
    if (staticMatch) return { ok: true, grant: { kind: "any" } };
    return this.checkJwt(token);
  }

  private async checkJwt(token: string): Promise<AuthResult> {
    if (this.keys.size === 0 || !JWT_SHAPE.test(token)) return { ok: false, reason: "invalid" };
    let kid: string | undefined;
    try {
      kid = decodeProtectedHeader(token).kid;
    } catch {
      return { ok: false, reason: "invalid" };
    }
    const key = kid === undefined ? undefined : this.keys.get(kid);
    if (!key) return { ok: false, reason: "invalid" };
    try {
      const { payload } = await jwtVerify(token, key, {
        algorithms: ["HS256"],
        issuer: ISSUER,
        audience: AUDIENCE,
        currentDate: new Date(this.now()),
        maxTokenAge: this.opts.maxTtlSec,
        requiredClaims: ["sub", "iat", "exp", "jti"],
      });
      const { sub, iat, exp, jti } = payload;
      if (!isValidDeviceId(sub) || typeof jti !== "string") return { ok: false, reason: "invalid" };
      // A token minted with a longer life than allowed is refused even while young.
      if (typeof iat !== "number" || typeof exp !== "number" || exp - iat > this.opts.maxTtlSec) {
        return { ok: false, reason: "invalid" };
      }
      if (this.opts.revoked?.(jti)) return { ok: false, reason: "revoked" };
      return { ok: true, grant: { kind: "device", deviceId: sub, tokenId: jti } };
    } catch (err) {
      return { ok: false, reason: err instanceof errors.JWTExpired ? "expired" : "invalid" };
    }
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

/** A stable, non-reversible name for a token, for per-token limits (never logged as is). */
export function tokenFingerprint(token: string | undefined): string {
  return token ? createHash("sha256").update(token).digest("base64url").slice(0, 16) : "";
}
