import assert from "node:assert/strict";
import { test } from "node:test";
import { createLogger } from "./log";
import { Shutdown } from "./shutdown";

test("runtime - shutdown fails readiness first, runs steps in order, survives a failing or hung step", async () => {
  const order: string[] = [];
  const shutdown = new Shutdown(createLogger("test", "silent"), () => order.push("readiness"), {
    drainDelayMs: 0,
    stepTimeoutMs: 200,
    deadlineMs: 5_000,
  });
  shutdown.add("grpc", () => order.push("grpc"));
  shutdown.add("broken", () => {
    throw new Error("boom");
  });
  shutdown.add("hung", () => new Promise(() => {}));
  shutdown.add("nats", async () => order.push("nats"));
  await Promise.all([shutdown.run(), shutdown.run()]);
  assert.deepEqual(order, ["readiness", "grpc", "nats"]);
});
