import assert from "node:assert/strict";
import { test } from "node:test";
import { Health } from "./health";

test("runtime - health is serving only while every check passes", async () => {
  const health = new Health();
  let natsUp = true;
  health.addCheck("nats", () => natsUp || "disconnected");
  health.addCheck("engine", async () => true as const);
  assert.deepEqual(await health.report(), { serving: true, problems: [] });
  natsUp = false;
  assert.deepEqual(await health.report(), { serving: false, problems: ["nats: disconnected"] });
});

test("runtime - a throwing check counts as failing, and draining fails readiness for good", async () => {
  const health = new Health();
  health.addCheck("db", () => {
    throw new Error("connection refused");
  });
  assert.deepEqual(await health.report(), { serving: false, problems: ["db: connection refused"] });
  const ok = new Health();
  ok.drain();
  assert.equal((await ok.report()).serving, false);
});

test("runtime - a dependency served without is reported but never fails readiness", async () => {
  const health = new Health();
  let storage: true | string = true;
  health.addDependency("storage", () => storage);
  assert.deepEqual(await health.report(), { serving: true, problems: [], dependencies: { storage: true } });
  storage = "unreachable (14)";
  assert.deepEqual(await health.report(), {
    serving: true,
    problems: [],
    dependencies: { storage: "unreachable (14)" },
  });
});
