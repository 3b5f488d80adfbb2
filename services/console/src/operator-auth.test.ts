import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { OperatorAuth, sessionCookie, sessionFromCookie } from "./operator-auth";

const TOKEN = "operator-token-0123456789";

function auth(now: { t: number }, overrides: Partial<ConstructorParameters<typeof OperatorAuth>[0]> = {}) {
  return new OperatorAuth({
    tokens: ["another-operator-token-xyz", TOKEN],
    sessionTtlMs: 60_000,
    maxSessions: 3,
    failuresPerMinute: 3,
    now: () => now.t,
    ...overrides,
  });
}

describe("operator sign-in", () => {
  it("operator - any configured token signs in; a wrong, empty or non-string one does not", () => {
    const a = auth({ t: 0 });
    const ok = a.signIn(TOKEN);
    assert.ok(ok.ok);
    assert.ok(a.check(ok.ok ? ok.sessionId : ""));
    assert.deepEqual(a.signIn(`${TOKEN}x`), { ok: false, reason: "invalid" });
    assert.deepEqual(a.signIn(""), { ok: false, reason: "invalid" });
    assert.deepEqual(a.signIn({ token: TOKEN }), { ok: false, reason: "invalid" });
  });

  it("operator - sessions expire, can be signed out, and the oldest goes beyond the limit", () => {
    const now = { t: 0 };
    const a = auth(now);
    const ids = [1, 2, 3, 4].map(() => {
      const r = a.signIn(TOKEN);
      assert.ok(r.ok);
      return r.sessionId;
    });
    assert.equal(a.check(ids[0]), false, "evicted");
    assert.equal(a.check(ids[3]), true);
    a.signOut(ids[3]);
    assert.equal(a.check(ids[3]), false);
    now.t = 60_001;
    assert.equal(a.check(ids[2]), false, "expired");
    assert.equal(a.check(undefined), false);
    assert.equal(a.check("made-up"), false);
  });

  it("operator - guessing is limited per minute, then allowed again", () => {
    const now = { t: 0 };
    const a = auth(now);
    for (let i = 0; i < 3; i++) assert.deepEqual(a.signIn("guess"), { ok: false, reason: "invalid" });
    assert.deepEqual(a.signIn(TOKEN), { ok: false, reason: "rate_limited" });
    now.t = 60_001;
    assert.ok(a.signIn(TOKEN).ok);
  });

  it("operator - the cookie is HttpOnly and SameSite=Strict, and is read back from a Cookie header", () => {
    const c = sessionCookie("abc", 60, false);
    assert.match(c, /HttpOnly/);
    assert.match(c, /SameSite=Strict/);
    assert.doesNotMatch(c, /Secure/);
    assert.match(sessionCookie("abc", 60, true), /; Secure/);
    assert.equal(sessionFromCookie("a=1; hotpin_console=abc; b=2"), "abc");
    assert.equal(sessionFromCookie("a=1"), undefined);
  });
});
