import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { allPanels, type Dashboard } from "./dashboard-format";
import { dashboardFiles, ruleFiles } from "./paths";

// The package's types are ESM-only while its CommonJS build is what Node loads here.
const { parser } = require("@prometheus-io/lezer-promql") as typeof import("@prometheus-io/lezer-promql", { with: {
  "resolution-mode": "import",
}});

/** A PromQL expression the mesh ships, and where it comes from (for messages). */
export interface ShippedQuery {
  where: string;
  expr: string;
  /** Dashboard panel title, or the alert/record name. */
  name: string;
  kind: "panel" | "alert" | "record" | "variable";
}

/**
 * Grafana's variables as a test evaluates them: every repeating variable matches everything and
 * `$__rate_interval` becomes a window long enough to hold a whole test run.
 */
export function expandTemplate(expr: string, rateInterval = "5m"): string {
  return expr
    .replace(/\$__rate_interval|\$__interval|\$__range/g, rateInterval)
    .replace(/\$\{?[A-Za-z_][A-Za-z0-9_]*\}?/g, ".*");
}

/** The metric names an expression selects (its vector selectors and `__name__` matchers). */
export function metricNames(expr: string): string[] {
  const names = new Set<string>();
  const tree = parser.parse(expr);
  const cursor = tree.cursor();
  do {
    if (cursor.name === "VectorSelector") {
      const first = cursor.node.firstChild;
      if (first?.name === "Identifier") names.add(expr.slice(first.from, first.to));
    }
    if (cursor.name === "UnquotedLabelMatcher" || cursor.name === "QuotedLabelMatcher") {
      const text = expr.slice(cursor.from, cursor.to);
      const m = /^__name__\s*=\s*"([^"]+)"$/.exec(text);
      if (m?.[1]) names.add(m[1]);
    }
  } while (cursor.next());
  return [...names];
}

/** Syntax errors the PromQL grammar finds (positions of error nodes). */
export function syntaxErrors(expr: string): number[] {
  const out: number[] = [];
  const cursor = parser.parse(expr).cursor();
  do if (cursor.type.isError) out.push(cursor.from);
  while (cursor.next());
  return out;
}

/** The metric a series name belongs to: a histogram's _bucket/_sum/_count are its own. */
export function familyOf(series: string, families: ReadonlySet<string>): string | undefined {
  if (families.has(series)) return series;
  // A histogram's series, or an OpenMetrics counter's (its family is named without `_total`).
  const base = series.replace(/_(bucket|sum|count|total)$/, "");
  return families.has(base) ? base : undefined;
}

export function loadDashboards(): { file: string; dashboard: Dashboard }[] {
  return dashboardFiles().map((file) => ({ file, dashboard: JSON.parse(readFileSync(file, "utf8")) as Dashboard }));
}

interface RuleGroupFile {
  groups: { name: string; rules: { alert?: string; record?: string; expr: string }[] }[];
}

export function loadRules(): RuleGroupFile["groups"] {
  return ruleFiles().flatMap((f) => (parse(readFileSync(f, "utf8")) as RuleGroupFile).groups);
}

/** Every query in every dashboard (panels and query variables) and every rule expression. */
export function shippedQueries(): ShippedQuery[] {
  const out: ShippedQuery[] = [];
  for (const { file, dashboard } of loadDashboards()) {
    const short = file.replace(/.*\/deploy\//, "deploy/");
    for (const p of allPanels(dashboard)) {
      for (const t of p.targets ?? []) {
        if (t.expr) out.push({ where: `${short} "${p.title}" ${t.refId}`, expr: t.expr, name: p.title, kind: "panel" });
      }
    }
    for (const v of dashboard.templating.list) {
      const q = typeof v.query === "string" ? v.query : v.query?.query;
      const m = v.type === "query" && typeof q === "string" ? /^label_values\((.+),\s*\w+\)$/.exec(q) : null;
      if (m?.[1]) out.push({ where: `${short} variable ${v.name}`, expr: m[1], name: v.name, kind: "variable" });
    }
  }
  for (const g of loadRules()) {
    for (const r of g.rules) {
      const name = r.alert ?? r.record ?? "";
      out.push({ where: `rules ${g.name} ${name}`, expr: r.expr, name, kind: r.alert ? "alert" : "record" });
    }
  }
  return out;
}

/** Names defined by recording rules: they exist once Prometheus evaluates the rules. */
export function recordedNames(): Set<string> {
  return new Set(
    loadRules()
      .flatMap((g) => g.rules)
      .flatMap((r) => (r.record ? [r.record] : [])),
  );
}
