// Writes deploy/observability/prometheusrule.yaml from the rule files: `npm run rules:gen -w @hotpin/tests`.
import { writeFileSync } from "node:fs";
import { PROMETHEUS_RULE_FILE, prometheusRuleText } from "./prometheus-rule";

writeFileSync(PROMETHEUS_RULE_FILE, prometheusRuleText());
