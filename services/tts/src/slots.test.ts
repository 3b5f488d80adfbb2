import assert from "node:assert/strict";
import { test } from "node:test";
import { Slots } from "./slots";

test("slots - refuses beyond capacity and frees on release", async () => {
  const s = new Slots(2);
  const a = s.tryAcquire();
  const b = s.tryAcquire();
  assert.ok(a && b);
  assert.equal(s.tryAcquire(), undefined);
  a();
  a(); // twice is harmless
  assert.equal(s.active, 1);
  const c = s.tryAcquire();
  assert.ok(c);
  let idle = false;
  const waiting = s.idle().then(() => {
    idle = true;
  });
  b();
  assert.equal(idle, false);
  c();
  await waiting;
  assert.equal(s.active, 0);
});

test("slots - rejects a capacity below one", () => {
  assert.throws(() => new Slots(0), RangeError);
});
