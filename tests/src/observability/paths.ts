import { readdirSync } from "node:fs";
import { join, resolve } from "node:path";

/** tests/dist/observability → the repository root. */
export const ROOT = resolve(__dirname, "../../..");
export const OBSERVABILITY = join(ROOT, "deploy/observability");
export const DASHBOARDS = join(OBSERVABILITY, "dashboards");
export const RULES = join(OBSERVABILITY, "rules");

export function dashboardFiles(): string[] {
  return readdirSync(DASHBOARDS)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => join(DASHBOARDS, f));
}

/** The rule files Prometheus loads (their unit tests live in rules/tests). */
export function ruleFiles(): string[] {
  return readdirSync(RULES)
    .filter((f) => f.endsWith(".rules.yml"))
    .sort()
    .map((f) => join(RULES, f));
}
