import { readFileSync } from "node:fs";
import { basename, relative } from "node:path";
import { parse, stringify } from "yaml";
import { OBSERVABILITY, ROOT, ruleFiles } from "./paths";

export const PROMETHEUS_RULE_FILE = `${OBSERVABILITY}/prometheusrule.yaml`;

/**
 * The PrometheusRule (prometheus-operator) holding the same groups as the rule files, as the
 * Kubernetes component applies it. Kustomize cannot wrap a file's YAML into `spec`, so this file
 * is generated (`npm run rules:gen -w @hotpin/tests`) and a test fails when it is stale.
 */
export function prometheusRuleText(): string {
  const files = ruleFiles();
  const groups = files.flatMap((f) => (parse(readFileSync(f, "utf8")) as { groups: unknown[] }).groups);
  const rule = {
    apiVersion: "monitoring.coreos.com/v1",
    kind: "PrometheusRule",
    metadata: {
      name: "hotpin-mesh",
      labels: { "app.kubernetes.io/part-of": "hotpin-mesh", "app.kubernetes.io/component": "observability" },
    },
    spec: { groups },
  };
  const sources = files.map((f) => relative(ROOT, f)).join(", ");
  const header = `# Generated from ${sources} by \`npm run rules:gen -w @hotpin/tests\`; edit those, not this.\n`;
  return header + stringify(rule, { lineWidth: 0 });
}

export function ruleFileNames(): string[] {
  return ruleFiles().map((f) => basename(f));
}
