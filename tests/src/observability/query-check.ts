import type { PrometheusServer } from "./prometheus-server";
import { expandTemplate, familyOf, metricNames, type ShippedQuery } from "./promql";

/** A shipped query allowed to come back empty, or to name a metric not scraped yet, and why. */
export interface QueryException {
  /** Matched against ShippedQuery.where (a substring). */
  where: string;
  reason: string;
  /** Metrics this query may name although no process exports them yet. */
  missing?: string[];
}

export interface QueryReport {
  query: ShippedQuery;
  problems: string[];
  /** The expression returned no series. */
  empty: boolean;
}

/** What Prometheus scraped: names with series, and metric families announced by # TYPE lines. */
export interface Scraped {
  series: Set<string>;
  families: Set<string>;
}

export async function scrapedNames(prom: PrometheusServer): Promise<Scraped> {
  const names = await prom.api("label/__name__/values");
  const metadata = await prom.api("metadata");
  return { series: new Set(names.data ?? []), families: new Set(Object.keys(metadata.data ?? {})) };
}

/**
 * Evaluates each query on the running Prometheus (as Grafana would, variables expanded): it must
 * parse, and every metric it names must have been scraped (or be a recording rule's), unless an
 * exception says why not.
 */
export async function checkQueries(
  prom: PrometheusServer,
  queries: ShippedQuery[],
  scraped: Scraped,
  recorded: Set<string>,
  exceptions: QueryException[] = [],
): Promise<QueryReport[]> {
  const reports: QueryReport[] = [];
  for (const query of queries) {
    const expr = expandTemplate(query.expr);
    const problems: string[] = [];
    const allowed = new Set(exceptions.filter((e) => query.where.includes(e.where)).flatMap((e) => e.missing ?? []));
    const r = await prom.api("query", { query: expr });
    if (r.status !== "success") problems.push(`Prometheus refuses it: ${r.errorType}: ${r.error}`);
    for (const name of metricNames(expr)) {
      const known = scraped.series.has(name) || familyOf(name, scraped.families) !== undefined || recorded.has(name);
      if (!known && !allowed.has(name)) problems.push(`names ${name}, which no process exported`);
    }
    const result = r.data?.result;
    reports.push({ query, problems, empty: !Array.isArray(result) || result.length === 0 });
  }
  return reports;
}
