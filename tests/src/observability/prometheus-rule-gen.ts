// Writes deploy/observability/prometheusrule.yaml from the rule files, then lets Biome format it:
// `npm run rules:gen -w @hotpin/tests`.
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { ROOT } from "./paths";
import { PROMETHEUS_RULE_FILE, prometheusRuleText } from "./prometheus-rule";

writeFileSync(PROMETHEUS_RULE_FILE, prometheusRuleText());
execFileSync("npx", ["biome", "format", "--write", PROMETHEUS_RULE_FILE], { cwd: ROOT, stdio: "inherit" });
