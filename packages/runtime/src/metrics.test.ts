import assert from "node:assert/strict";
import { test } from "node:test";
import { Registry } from "prom-client";
import { Health } from "./health";
import { registerHealthMetrics } from "./metrics";

async function value(
  registry: Registry,
  name: string,
  labels: Record<string, string> = {},
): Promise<number | undefined> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  const sample = (metric?.values ?? []).find((v) =>
    Object.entries(labels).every(([k, want]) => String((v.labels as Record<string, unknown>)[k]) === want),
  );
  return sample?.value;
}

test("runtime - health gauges: each check 1 or 0 (a throwing check is 0), ready, and draining after drain()", async () => {
  const registry = new Registry();
  const health = new Health();
  let natsUp = true;
  health.addCheck("nats", () => natsUp || "nats disconnected");
  health.addCheck("database", () => {
    throw new Error("no database");
  });
  registerHealthMetrics(registry, health);
  assert.equal(await value(registry, "hotpin_health_check_up", { check: "nats" }), 1);
  assert.equal(await value(registry, "hotpin_health_check_up", { check: "database" }), 0);
  assert.equal(await value(registry, "hotpin_ready"), 0);
  assert.equal(await value(registry, "hotpin_draining"), 0);

  const healthy = new Registry();
  const fine = new Health();
  fine.addCheck("nats", () => natsUp || "nats disconnected");
  registerHealthMetrics(healthy, fine);
  assert.equal(await value(healthy, "hotpin_ready"), 1);
  natsUp = false;
  assert.equal(await value(healthy, "hotpin_health_check_up", { check: "nats" }), 0);
  assert.equal(await value(healthy, "hotpin_ready"), 0);
  natsUp = true;
  fine.drain();
  assert.equal(await value(healthy, "hotpin_ready"), 0);
  assert.equal(await value(healthy, "hotpin_draining"), 1);
});
