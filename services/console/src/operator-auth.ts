import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

export const SESSION_COOKIE = "hotpin_console";

export interface OperatorAuthOptions {
  tokens: string[];
  sessionTtlMs: number;
  maxSessions: number;
  failuresPerMinute: number;
  now?: () => number;
}

export type SignInResult = { ok: true; sessionId: string } | { ok: false; reason: "invalid" | "rate_limited" };

/** SHA-256 first, so the comparison is of equal lengths and takes the same time whatever the input. */
function digest(value: string): Buffer {
  return createHash("sha256").update(value).digest();
}

/**
 * Operator sign-in: a token compared in constant time against every configured operator token
 * exchanges for a random session id (the HttpOnly cookie); only the session id's hash is kept.
 * Device tokens are never operator tokens: they are not in this list.
 */
export class OperatorAuth {
  private readonly tokenDigests: Buffer[];
  /** session-id hash → expiry (ms); insertion order is age order. */
  private readonly sessions = new Map<string, number>();
  private failures: number[] = [];
  private readonly now: () => number;

  constructor(private readonly opts: OperatorAuthOptions) {
    this.tokenDigests = opts.tokens.map(digest);
    this.now = opts.now ?? Date.now;
  }

  signIn(token: unknown): SignInResult {
    const now = this.now();
    this.failures = this.failures.filter((t) => t > now - 60_000);
    if (this.failures.length >= this.opts.failuresPerMinute) return { ok: false, reason: "rate_limited" };
    const given = digest(typeof token === "string" ? token : "");
    let match = false;
    for (const d of this.tokenDigests) match = timingSafeEqual(given, d) || match;
    if (!match || typeof token !== "string") {
      this.failures.push(now);
      return { ok: false, reason: "invalid" };
    }
    const sessionId = randomBytes(32).toString("base64url");
    this.sessions.set(digest(sessionId).toString("hex"), now + this.opts.sessionTtlMs);
    while (this.sessions.size > this.opts.maxSessions) {
      const oldest = this.sessions.keys().next().value as string;
      this.sessions.delete(oldest);
    }
    return { ok: true, sessionId };
  }

  /** Whether a session id from a cookie is signed in now. */
  check(sessionId: string | undefined): boolean {
    if (!sessionId) return false;
    const key = digest(sessionId).toString("hex");
    const expiry = this.sessions.get(key);
    if (expiry === undefined) return false;
    if (expiry <= this.now()) {
      this.sessions.delete(key);
      return false;
    }
    return true;
  }

  signOut(sessionId: string | undefined): void {
    if (sessionId) this.sessions.delete(digest(sessionId).toString("hex"));
  }
}

/** The console's session id from a Cookie header, if any. */
export function sessionFromCookie(header: string | undefined): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === SESSION_COOKIE) return part.slice(eq + 1).trim() || undefined;
  }
  return undefined;
}

export function sessionCookie(sessionId: string, maxAgeSec: number, secure: boolean): string {
  return `${SESSION_COOKIE}=${sessionId}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${maxAgeSec}${secure ? "; Secure" : ""}`;
}

export function clearedCookie(): string {
  return `${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`;
}
