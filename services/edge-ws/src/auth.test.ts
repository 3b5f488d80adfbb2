import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { test } from "node:test";
import { ConfigError } from "@hotpin/runtime";
import { decodeJwt, decodeProtectedHeader } from "jose";
import { Authenticator, checkCredentials, grantCovers, issueToken, keyId, tokenFromRequest } from "./auth";
import { main as issueTokenCli } from "./issue-token";

const secret = "0123456789abcdef-secret-for-tests-xyz";
const DAY = 86_400;
const auth = (opts: Partial<ConstructorParameters<typeof Authenticator>[0]> = {}) =>
  new Authenticator({ enabled: true, staticTokens: [], secret, maxTtlSec: 90 * DAY, ...opts });

test("auth - accepts a static token and refuses others", async () => {
  const a = auth({ staticTokens: ["abc", "def"], secret: "" });
  assert.deepEqual(await a.check("def"), { ok: true, grant: { kind: "any" } });
  assert.deepEqual(await a.check("abd"), { ok: false, reason: "invalid" });
  assert.deepEqual(await a.check("abcdef-longer-than-any"), { ok: false, reason: "invalid" });
  assert.deepEqual(await a.check(undefined), { ok: false, reason: "missing" });
});

test("auth - a device token is a standard JWT: sub, iat, exp, jti and the key's kid", async () => {
  const token = await issueToken(secret, "pin-7", 3600);
  // What the Sesame-style client checks before connecting, without verifying: three base64url
  // parts, a JSON header and payload, an exp in the future.
  assert.match(token, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
  assert.doesNotMatch(token, /^-/);
  const header = decodeProtectedHeader(token);
  assert.deepEqual(header, { alg: "HS256", typ: "JWT", kid: keyId(secret) });
  const claims = decodeJwt(token);
  assert.equal(claims.sub, "pin-7");
  assert.ok(typeof claims.exp === "number" && claims.exp * 1000 > Date.now());
  assert.equal((claims.exp ?? 0) - (claims.iat ?? 0), 3600);
  assert.match(String(claims.jti), /^[A-Za-z0-9_-]{22}$/);
  // Any HS256 implementation verifies it: the signature is HMAC-SHA256 over header.payload.
  const [h, p, sig] = token.split(".");
  assert.equal(createHmac("sha256", secret).update(`${h}.${p}`).digest("base64url"), sig);
});

test("auth - a device token grants exactly its device until it expires", async () => {
  let now = 1_900_000_000_000;
  const a = auth({ now: () => now });
  const token = await issueToken(secret, "pin-7", 60, now);
  const result = await a.check(token);
  assert.ok(result.ok && result.grant.kind === "device" && result.grant.deviceId === "pin-7");
  assert.ok(result.ok && grantCovers(result.grant, "pin-7"));
  assert.ok(result.ok && !grantCovers(result.grant, "pin-8"));
  now += 61_000;
  assert.deepEqual(await a.check(token), { ok: false, reason: "expired" });
});

test("auth - refuses a token signed with another secret, tampered with, or not a JWT", async () => {
  const a = auth();
  const other = await issueToken("another-secret-0123456789-abcdefgh", "pin-7", 60);
  assert.deepEqual(await a.check(other), { ok: false, reason: "invalid" });
  const good = await issueToken(secret, "pin-7", 60);
  const [h, , sig] = good.split(".");
  const forged = [h, Buffer.from(JSON.stringify({ ...decodeJwt(good), sub: "pin-8" })).toString("base64url"), sig];
  assert.deepEqual(await a.check(forged.join(".")), { ok: false, reason: "invalid" });
  const none = [Buffer.from('{"alg":"none"}').toString("base64url"), forged[1], ""].join(".");
  assert.deepEqual(await a.check(none), { ok: false, reason: "invalid" });
  assert.deepEqual(await a.check("hp1.x.y"), { ok: false, reason: "invalid" });
  assert.deepEqual(await a.check(`${"a".repeat(5000)}.b.c`), { ok: false, reason: "invalid" });
});

test("auth - a rotated secret: tokens of the previous one keep working by kid, unknown kids do not", async () => {
  const next = "the-next-secret-after-rotation-0123456789";
  const old = await issueToken(secret, "pin-7", 600);
  const rotated = auth({ secret: next, previousSecrets: [secret] });
  assert.ok((await rotated.check(old)).ok);
  assert.ok((await rotated.check(await issueToken(next, "pin-7", 600))).ok);
  assert.deepEqual(await auth({ secret: next }).check(old), { ok: false, reason: "invalid" });
});

test("auth - the maximum lifetime is enforced when a token is checked, not only when issued", async () => {
  const long = await issueToken(secret, "pin-7", 365 * DAY);
  assert.deepEqual(await auth({ maxTtlSec: 90 * DAY }).check(long), { ok: false, reason: "invalid" });
  assert.ok((await auth({ maxTtlSec: 400 * DAY }).check(long)).ok);
});

test("auth - a revoked token id is refused, other tokens of the device still work", async () => {
  const revoked = new Set<string>();
  const a = auth({ revoked: (id) => revoked.has(id) });
  const lost = await issueToken(secret, "pin-7", 600);
  const kept = await issueToken(secret, "pin-7", 600);
  revoked.add(String(decodeJwt(lost).jti));
  assert.deepEqual(await a.check(lost), { ok: false, reason: "revoked" });
  assert.ok((await a.check(kept)).ok);
});

test("auth - off only when disabled, then everything is let in", async () => {
  const a = new Authenticator({ enabled: false, staticTokens: [], secret: "", maxTtlSec: 60 });
  assert.deepEqual(await a.check(undefined), { ok: true, grant: { kind: "any" } });
});

test("auth - issuing refuses a weak secret and an invalid device id", async () => {
  await assert.rejects(issueToken("short", "pin", 60), /at least 32/);
  await assert.rejects(issueToken("a".repeat(40), "pin", 60), /different/);
  await assert.rejects(issueToken(secret, "x".repeat(129), 60), /printable ASCII/);
  await assert.rejects(issueToken(secret, "has space", 60), /printable ASCII/);
});

test("auth - start-up refuses a weak secret and well-known default tokens unless allowed", () => {
  const base = { tokenSecret: "", tokenPreviousSecrets: [], deviceTokens: [], observerTokens: [] };
  assert.throws(() => checkCredentials({ ...base, tokenSecret: "tooshort", allowWellKnownTokens: false }), ConfigError);
  assert.throws(
    () => checkCredentials({ ...base, deviceTokens: ["your_api_token_here"], allowWellKnownTokens: false }),
    /HOTPIN_DEVICE_TOKENS holds a well-known default token/,
  );
  checkCredentials({ ...base, deviceTokens: ["your_api_token_here"], allowWellKnownTokens: true });
  checkCredentials({ ...base, tokenSecret: secret, deviceTokens: ["k3Jd9-random"], allowWellKnownTokens: false });
});

test("auth - hotpin-edge-token refuses a device id the edge would refuse and a TTL above the maximum", async () => {
  const env = { HOTPIN_TOKEN_SECRET: secret, HOTPIN_EDGE_TOKEN_MAX_TTL_SEC: "3600" };
  const quiet = process.stderr.write;
  process.stderr.write = () => true;
  try {
    assert.equal(await issueTokenCli(["node", "t", "x".repeat(4096)], env), 2);
    assert.equal(await issueTokenCli(["node", "t", "pin", "--ttl", "7200"], env), 2);
  } finally {
    process.stderr.write = quiet;
  }
});

test("auth - reads the token from Bearer, a bare header or the query", () => {
  const req = (authorization?: string) => ({ headers: authorization ? { authorization } : {} }) as IncomingMessage;
  const url = new URL("ws://h/ws?token=q");
  assert.equal(tokenFromRequest(req("Bearer abc"), url), "abc");
  assert.equal(tokenFromRequest(req("abc"), url), "abc");
  assert.equal(tokenFromRequest(req(), url), "q");
  assert.equal(tokenFromRequest(req(), new URL("ws://h/ws")), undefined);
});
