import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { deliberatelyUnused, exportedMetrics } from "./inventory";
import { ROOT } from "./paths";
import { expandTemplate, familyOf, metricNames, recordedNames, shippedQueries } from "./promql";

/** Metric families named by the shipped dashboards and rules, mapped onto the exported ones. */
async function usage() {
  const exported = await exportedMetrics();
  const families = new Set(exported.keys());
  const recorded = recordedNames();
  const used = new Set<string>();
  const unknown: string[] = [];
  for (const q of shippedQueries()) {
    for (const name of metricNames(expandTemplate(q.expr))) {
      const family = familyOf(name, families);
      if (family) used.add(family);
      else if (!recorded.has(name) && name !== "up") unknown.push(`${q.where}: ${name}`);
    }
  }
  return { exported, used, unknown };
}

test("metrics - every exported metric is used by a dashboard or an alert, or listed as deliberately unused", async () => {
  const { exported, used } = await usage();
  const unused = deliberatelyUnused();
  const missing = [...exported]
    .filter(([name]) => !used.has(name) && !unused.has(name))
    .map(([n, at]) => `${n} (${at})`);
  assert.deepEqual(missing, [], "use these in deploy/observability or list them in unused-metrics.txt with a reason");
  const stale = [...unused.keys()].filter((n) => used.has(n) || !exported.has(n));
  assert.deepEqual(stale, [], "unused-metrics.txt lists metrics that are used or no longer exported");
  for (const [name, reason] of unused) assert.ok(reason.length > 10, `${name} needs a reason`);
});

test("metrics - every metric a dashboard or rule names is exported by some process", async () => {
  const { unknown } = await usage();
  assert.deepEqual(unknown, []);
});

test("metrics - the usage check notices a metric renamed in a query", async () => {
  const families = new Set((await exportedMetrics()).keys());
  assert.equal(familyOf("hotpin_edge_stage_seconds_bucket", families), "hotpin_edge_stage_seconds");
  assert.equal(familyOf("hotpin_edge_stage_second_bucket", families), undefined);
  assert.deepEqual(
    metricNames(expandTemplate('sum(rate(hotpin_edge_utterances_total{instance=~"$instance"}[$__rate_interval]))')),
    ["hotpin_edge_utterances_total"],
  );
});

test("metrics - no label can carry a device id, session id or user text", async () => {
  const exported = await exportedMetrics();
  const files = new Set([...exported.values()].filter((f) => f.endsWith(".ts")));
  for (const file of files) {
    const text = readFileSync(join(ROOT, file), "utf8");
    for (const m of text.matchAll(/labelNames:\s*\[([^\]]*)\]/g)) {
      assert.doesNotMatch(m[1] ?? "", /device|session|text|transcript|token|user/i, `${file}: ${m[1]}`);
    }
  }
});
