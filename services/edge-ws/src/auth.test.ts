import assert from "node:assert/strict";
import type { IncomingMessage } from "node:http";
import { test } from "node:test";
import { Authenticator, grantCovers, issueToken, tokenFromRequest } from "./auth";

const secret = "0123456789abcdef-secret";

test("auth - accepts a static token and refuses others", () => {
  const auth = new Authenticator({ enabled: true, staticTokens: ["abc", "def"], secret: "" });
  assert.deepEqual(auth.check("def"), { ok: true, grant: { kind: "any" } });
  assert.deepEqual(auth.check("abd"), { ok: false, reason: "invalid" });
  assert.deepEqual(auth.check(undefined), { ok: false, reason: "missing" });
});

test("auth - a signed token grants exactly its device until it expires", () => {
  let now = 1_000_000_000_000;
  const auth = new Authenticator({ enabled: true, staticTokens: [], secret, now: () => now });
  const token = issueToken(secret, "pin-7", 60, now);
  const result = auth.check(token);
  assert.deepEqual(result, { ok: true, grant: { kind: "device", deviceId: "pin-7" } });
  assert.ok(result.ok && grantCovers(result.grant, "pin-7"));
  assert.ok(result.ok && !grantCovers(result.grant, "pin-8"));
  now += 61_000;
  assert.deepEqual(auth.check(token), { ok: false, reason: "expired" });
});

test("auth - refuses a token signed with another secret or tampered with", () => {
  const auth = new Authenticator({ enabled: true, staticTokens: [], secret });
  const other = issueToken("another-secret-0123456789", "pin-7", 60);
  assert.deepEqual(auth.check(other), { ok: false, reason: "invalid" });
  const good = issueToken(secret, "pin-7", 60);
  const [p, , exp, mac] = good.split(".");
  const forged = [p, Buffer.from("pin-8").toString("base64url"), exp, mac].join(".");
  assert.deepEqual(auth.check(forged), { ok: false, reason: "invalid" });
  assert.deepEqual(auth.check("hp1.x.y"), { ok: false, reason: "invalid" });
});

test("auth - off only when disabled, then everything is let in", () => {
  const auth = new Authenticator({ enabled: false, staticTokens: [], secret: "" });
  assert.deepEqual(auth.check(undefined), { ok: true, grant: { kind: "any" } });
});

test("auth - issuing refuses a short secret", () => {
  assert.throws(() => issueToken("short", "pin", 60), /at least 16/);
});

test("auth - reads the token from Bearer, a bare header or the query", () => {
  const req = (authorization?: string) => ({ headers: authorization ? { authorization } : {} }) as IncomingMessage;
  const url = new URL("ws://h/ws?token=q");
  assert.equal(tokenFromRequest(req("Bearer abc"), url), "abc");
  assert.equal(tokenFromRequest(req("abc"), url), "abc");
  assert.equal(tokenFromRequest(req(), url), "q");
  assert.equal(tokenFromRequest(req(), new URL("ws://h/ws")), undefined);
});
