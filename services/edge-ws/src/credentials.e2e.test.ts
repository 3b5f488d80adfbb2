import assert from "node:assert/strict";
import { test } from "node:test";
import { freePort, startNats, startOtlpCollector } from "@hotpin/test-support";
import { BENCH_TOKEN, startEdgeProcess } from "./bench/edge-process";

/**
 * The edge as it runs in production (its own process, telemetry preloaded, spans exported over
 * OTLP to a real receiver), with every downstream service unreachable: it stays ready (the state
 * of each dependency is in /readyz details), and no credential reaches a span, its log or metrics.
 */
test("edge process - ready without its downstreams, and no token in any exported span, log line or metric", async () => {
  await using nats = await startNats();
  await using collector = await startOtlpCollector();
  const dead = `127.0.0.1:${await freePort()}`;
  const edge = await startEdgeProcess({
    natsUrl: nats.url,
    stt: dead,
    llm: dead,
    tts: dead,
    storage: dead,
    env: {
      OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint,
      OTEL_BSP_SCHEDULE_DELAY: "100",
      HOTPIN_LOG_LEVEL: "debug",
    },
  });
  try {
    const base = edge.url.replace("ws://", "http://");
    const readyz = await fetch(edge.metricsUrl.replace("/metrics", "/readyz"));
    assert.equal(readyz.status, 200);
    const report = (await readyz.json()) as { dependencies: Record<string, unknown> };
    for (const dep of ["stt", "llm", "tts", "storage"]) assert.notEqual(report.dependencies[dep], true, dep);

    const downloadToken = "Zq3vXbT0cY7nK2mW9pL4sR8dF1gH6jA5eU0iO3yN7tB";
    await (await fetch(`${base}/image?session=pin-span&token=${BENCH_TOKEN}`, { method: "POST", body: "x" })).text();
    await (await fetch(`${base}/image?token=${BENCH_TOKEN}&session=pin-span`, { method: "POST", body: "x" })).text();
    await (await fetch(`${base}/download/${downloadToken}`)).text();
    const spans = await collector.waitFor(
      (s) => s.filter((x) => x.attributes["url.path"] !== undefined).length >= 3,
      20_000,
    );
    const secrets = [BENCH_TOKEN, downloadToken];
    for (const span of spans) {
      const text = JSON.stringify(span);
      for (const secret of secrets) assert.ok(!text.includes(secret), `span ${span.name} carries a token: ${text}`);
    }
    const image = spans.find((s) => s.attributes["url.path"] === "/image");
    assert.match(String(image?.attributes["url.query"]), /token=REDACTED/);
    assert.ok(spans.some((s) => s.attributes["url.path"] === "/download/REDACTED"));
    // Dependency state goes to metrics (refreshed every 5 s).
    let metrics = "";
    for (const until = Date.now() + 15_000; Date.now() < until; await new Promise((r) => setTimeout(r, 200))) {
      metrics = await (await fetch(edge.metricsUrl)).text();
      if (/hotpin_edge_dependency_up\{[^}]*dependency="storage"[^}]*\} 0/.test(metrics)) break;
    }
    assert.match(metrics, /hotpin_edge_dependency_up\{[^}]*dependency="storage"[^}]*\} 0/);
    for (const secret of secrets) assert.ok(!metrics.includes(secret), "a metric carries a token");
  } finally {
    await edge.stop();
  }
  for (const secret of [BENCH_TOKEN]) assert.ok(!edge.child.tail().includes(secret), "a log line carries a token");
});
