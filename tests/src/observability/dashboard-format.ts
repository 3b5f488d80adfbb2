/**
 * The canonical form of a dashboard file in deploy/observability/dashboards: what the lint test
 * demands and what `npm run dashboards:fix -w @hotpin/tests` writes back. Keys sorted, no
 * instance-specific fields of an export (id, version, iteration, __inputs), every panel and
 * query on the `${datasource}` variable, panel ids numbered in order. Whitespace is Biome's
 * (`npx biome check` formats JSON too), so the lint compares structure and key order.
 */

export const DATASOURCE_VARIABLE = "datasource";
export const DATASOURCE = { type: "prometheus", uid: `\${${DATASOURCE_VARIABLE}}` } as const;
export const SCHEMA_VERSION = 39;

/** Fields a Grafana export carries that belong to one Grafana instance, not to the dashboard. */
const INSTANCE_FIELDS = ["id", "iteration", "version", "__inputs", "__requires", "__elements", "gnetId"];

// biome-ignore lint/suspicious/noExplicitAny: dashboards are arbitrary JSON
type Json = any;

export interface Panel {
  id: number;
  title: string;
  type: string;
  targets?: { expr?: string; refId?: string; legendFormat?: string; exemplar?: boolean }[];
  panels?: Panel[];
}

export interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: Json[] };
}

/** Every panel, rows' collapsed children included, in order. */
export function allPanels(d: Dashboard): Panel[] {
  return (d.panels ?? []).flatMap((p) => [p, ...(p.panels ?? [])]);
}

function sortKeys(v: Json): Json {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === "object") {
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, sortKeys(v[k])]),
    );
  }
  return v;
}

/** The dashboard in canonical form (a new object; the input is not changed). */
export function normaliseDashboard(input: Json): Json {
  const d = structuredClone(input);
  for (const field of INSTANCE_FIELDS) delete d[field];
  d.schemaVersion = SCHEMA_VERSION;
  d.templating ??= { list: [] };
  const others = (d.templating.list as Json[]).filter((v) => v.type !== "datasource");
  const existing = (d.templating.list as Json[]).find((v) => v.type === "datasource");
  d.templating.list = [
    {
      current: {},
      hide: 0,
      includeAll: false,
      label: "Data source",
      multi: false,
      name: DATASOURCE_VARIABLE,
      options: [],
      query: "prometheus",
      refresh: 1,
      regex: existing?.regex ?? "",
      type: "datasource",
    },
    ...others.map((v) => (v.type === "query" ? { ...v, datasource: DATASOURCE, current: {}, options: [] } : v)),
  ];
  let id = 0;
  const fix = (p: Json) => {
    p.id = ++id;
    if (p.type !== "row" && p.type !== "text") p.datasource = DATASOURCE;
    for (const t of p.targets ?? []) t.datasource = DATASOURCE;
    for (const child of p.panels ?? []) fix(child);
  };
  for (const p of d.panels ?? []) fix(p);
  return sortKeys(d);
}

/** Where a file's JSON differs from its canonical form (key order included); undefined if it does not. */
export function canonicalDifference(d: Json): string | undefined {
  const have = JSON.stringify(d, null, 1).split("\n");
  const want = JSON.stringify(normaliseDashboard(d), null, 1).split("\n");
  const i = have.findIndex((line, n) => line !== want[n]);
  if (i < 0 && have.length === want.length) return undefined;
  const at = i < 0 ? Math.min(have.length, want.length) : i;
  return `structure line ${at + 1}: have ${JSON.stringify(have[at]?.trim())}, canonical ${JSON.stringify(want[at]?.trim())}`;
}

/**
 * Problems the normaliser cannot fix: the file must say them itself. `expectedUid` is the uid the
 * file name implies (fleet.json → hotpin-fleet).
 */
export function dashboardProblems(d: Json, expectedUid: string): string[] {
  const problems: string[] = [];
  if (d.uid !== expectedUid) problems.push(`uid is ${JSON.stringify(d.uid)}, expected ${expectedUid}`);
  if (typeof d.title !== "string" || !d.title) problems.push("no title");
  if (JSON.stringify(d).includes("$" + "{DS_"))
    problems.push("uses an import input ($" + "{DS_…}); use the datasource variable");
  for (const p of allPanels(d)) {
    if (p.type === "row" || p.type === "text") continue;
    if (!p.title) problems.push(`panel ${p.id} has no title`);
    const targets = p.targets ?? [];
    if (targets.length === 0) problems.push(`panel "${p.title}" has no query`);
    const refIds = new Set<string>();
    for (const t of targets) {
      if (!t.expr?.trim()) problems.push(`panel "${p.title}" has a query without expr`);
      if (!t.refId || refIds.has(t.refId)) problems.push(`panel "${p.title}" has a missing or repeated refId`);
      refIds.add(t.refId ?? "");
    }
  }
  return problems;
}
