import assert from "node:assert/strict";
import { test } from "node:test";
import { trace } from "@opentelemetry/api";
import { Counter, Histogram, Registry } from "prom-client";
import { Health } from "./health";
import { createRegistry, metricsText, observeTraced, registerHealthMetrics, serveMetrics } from "./metrics";

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

test("runtime - /metrics: OpenMetrics with exemplars for a scraper that asks, the text format without for others; names never change", async () => {
  const registry = createRegistry("edge");
  const utterances = new Counter({ name: "hotpin_test_utterances_total", help: "h", registers: [registry] });
  const stage = new Histogram({
    name: "hotpin_test_stage_seconds",
    help: "h",
    labelNames: ["stage"],
    buckets: [0.5, 1],
    registers: [registry],
    enableExemplars: true,
  });
  utterances.inc();
  const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
  observeTraced(
    stage,
    { stage: "first_audio" },
    0.7,
    trace.wrapSpanContext({ traceId, spanId: "00f067aa0ba902b7", traceFlags: 1 }),
  );
  const server = await serveMetrics(registry, new Health(), "127.0.0.1", 0);
  try {
    const { port } = server.address() as { port: number };
    const scrape = (accept?: string) =>
      fetch(`http://127.0.0.1:${port}/metrics`, { headers: accept ? { accept } : {} }).then(async (r) => ({
        type: r.headers.get("content-type") ?? "",
        body: await r.text(),
      }));
    // What Prometheus sends.
    const om = await scrape("application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1");
    assert.match(om.type, /^application\/openmetrics-text/);
    assert.match(
      om.body,
      /hotpin_test_stage_seconds_bucket\{le="1",service="edge",stage="first_audio"\} 1 # \{trace_id="4bf92f3577b34da6a3ce929d0e0e4736",span_id="00f067aa0ba902b7"\} 0\.7 /,
    );
    assert.match(om.body, /^hotpin_test_utterances_total\{service="edge"\} 1$/m);
    assert.match(om.body, /# EOF\n$/);
    for (const plain of [await scrape(), await scrape("text/plain")]) {
      assert.match(plain.type, /^text\/plain; version=0\.0\.4/);
      assert.match(plain.body, /^# TYPE hotpin_test_utterances_total counter$/m);
      assert.match(plain.body, /^hotpin_test_stage_seconds_bucket\{le="1",service="edge",stage="first_audio"\} 1$/m);
      assert.doesNotMatch(plain.body, /trace_id|# EOF/);
    }
    // Rendering OpenMetrics left the metric as every other reader knows it.
    assert.equal(registry.getSingleMetric("hotpin_test_utterances_total"), utterances);
    assert.match((await metricsText(registry, false)).body, /^hotpin_test_utterances_total\{service="edge"\} 1$/m);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});
