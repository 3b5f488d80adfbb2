import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { test } from "node:test";
import { parse, parseAllDocuments, stringify } from "yaml";
import { dashboardFiles, OBSERVABILITY, RULES, ruleFiles } from "./paths";
import { PROMETHEUS_RULE_FILE, prometheusRuleText } from "./prometheus-rule";
import { missingTool, tool } from "./tools";

test("rules - promtool check rules accepts every rule file", async () => {
  const r = await tool("promtool", ["check", "rules", ...ruleFiles()]);
  assert.ok(r.ok, r.output);
  assert.match(r.output, /SUCCESS/);
});

test("rules - promtool test rules: the SLO and saturation unit tests pass", async () => {
  const tests = ["slo.test.yml", "saturation.test.yml"].map((f) => join(RULES, "tests", f));
  const r = await tool("promtool", ["test", "rules", ...tests]);
  assert.ok(r.ok, r.output);
  assert.doesNotMatch(r.output, /FAILED/);
});

test("rules - promtool test rules fails when the latency objective reads another bucket", async () => {
  const dir = await mkdtemp(join(tmpdir(), "hotpin-rules-"));
  try {
    const slo = await readFile(join(RULES, "slo.rules.yml"), "utf8");
    await writeFile(join(dir, "slo.rules.yml"), slo.replaceAll(`le="2.5"`, `le="1"`));
    const testFile = await readFile(join(RULES, "tests", "slo.test.yml"), "utf8");
    await writeFile(join(dir, "slo.test.yml"), testFile.replace("../slo.rules.yml", "slo.rules.yml"));
    const r = await tool("promtool", ["test", "rules", join(dir, "slo.test.yml")]);
    assert.equal(r.ok, false, r.output);
    assert.match(r.output, /FAILED/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("rules - prometheusrule.yaml is generated from the rule files and up to date", async () => {
  // Biome formats YAML too, so the file is compared as YAML (and its header line as text).
  const have = await readFile(PROMETHEUS_RULE_FILE, "utf8");
  const want = prometheusRuleText();
  assert.equal(have.split("\n")[0], want.split("\n")[0]);
  assert.deepEqual(parse(have), parse(want), "run `npm run rules:gen -w @hotpin/tests`");
});

test("rules - kubectl kustomize renders the component: four dashboard ConfigMaps for Grafana's sidecar and the PrometheusRule", async (t) => {
  // kubectl (with kustomize v5) is no Debian package: where it is absent the render cannot be checked.
  const noKubectl = await missingTool("kubectl", ["version", "--client"]);
  if (noKubectl) {
    t.skip(noKubectl);
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), "hotpin-kustomize-"));
  try {
    // A Component renders alone, and through a kustomization that uses it (as the overlays do).
    const direct = await tool("kubectl", ["kustomize", OBSERVABILITY]);
    assert.ok(direct.ok, direct.output);
    await writeFile(
      join(dir, "kustomization.yaml"),
      stringify({
        apiVersion: "kustomize.config.k8s.io/v1beta1",
        kind: "Kustomization",
        namespace: "hotpin",
        components: [relative(dir, OBSERVABILITY)],
      }),
    );
    const r = await tool("kubectl", ["kustomize", dir]);
    assert.ok(r.ok, r.output);
    // biome-ignore lint/suspicious/noExplicitAny: rendered Kubernetes objects
    const objects = parseAllDocuments(r.output).map((d) => d.toJSON() as any);
    const maps = objects.filter((o) => o.kind === "ConfigMap");
    assert.deepEqual(maps.map((m) => m.metadata.name).sort(), [
      "hotpin-dashboard-events",
      "hotpin-dashboard-fleet",
      "hotpin-dashboard-runtime",
      "hotpin-dashboard-speech",
    ]);
    for (const m of maps) {
      assert.equal(m.metadata.labels.grafana_dashboard, "1");
      assert.equal(m.metadata.namespace, "hotpin");
    }
    for (const file of dashboardFiles()) {
      const key = file.split("/").pop() ?? "";
      const map = maps.find((m) => m.data[key] !== undefined);
      assert.ok(map, key);
      assert.deepEqual(JSON.parse(map.data[key]), JSON.parse(await readFile(file, "utf8")), key);
    }
    const rules = objects.filter((o) => o.kind === "PrometheusRule");
    assert.equal(rules.length, 1);
    assert.equal(rules[0].apiVersion, "monitoring.coreos.com/v1");
    // The groups the operator will load are the ones promtool checks and tests.
    const fromFiles = ruleFiles().map(async (f) => (parse(await readFile(f, "utf8")) as { groups: unknown[] }).groups);
    assert.deepEqual(rules[0].spec.groups, (await Promise.all(fromFiles)).flat());
    await writeFile(join(dir, "operator.rules.yml"), stringify({ groups: rules[0].spec.groups }));
    const check = await tool("promtool", ["check", "rules", join(dir, "operator.rules.yml")]);
    assert.ok(check.ok, check.output);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
