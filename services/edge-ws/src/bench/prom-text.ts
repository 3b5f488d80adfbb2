/** Samples of a Prometheus text exposition, keyed `name{labels}` exactly as exposed. */
export type Samples = Map<string, number>;

/** Parses the text format (comments skipped; `name{a="b"} value`). */
export function parsePromText(text: string): Samples {
  const out: Samples = new Map();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const cut = line.lastIndexOf(" ");
    if (cut < 0) continue;
    const value = Number(line.slice(cut + 1));
    if (Number.isFinite(value)) out.set(line.slice(0, cut), value);
  }
  return out;
}

export async function scrape(metricsUrl: string): Promise<Samples> {
  const res = await fetch(metricsUrl);
  if (!res.ok) throw new Error(`${metricsUrl} answered ${res.status}`);
  return parsePromText(await res.text());
}

/** A sample by name and label subset, summed over every series that carries those labels. */
export function sample(s: Samples, name: string, labels: Record<string, string> = {}): number {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  let total = 0;
  for (const [key, value] of s) {
    const brace = key.indexOf("{");
    const keyName = brace < 0 ? key : key.slice(0, brace);
    if (keyName !== name) continue;
    if (wanted.every((w) => key.includes(w))) total += value;
  }
  return total;
}

/**
 * The upper bound (`le`) of the bucket holding quantile q of a histogram's observations: an upper
 * estimate, as precise as the buckets. NaN without observations.
 */
export function histogramQuantile(s: Samples, name: string, q: number, labels: Record<string, string> = {}): number {
  const count = sample(s, `${name}_count`, labels);
  if (count === 0) return Number.NaN;
  const bounds = new Set<number>();
  for (const key of s.keys()) {
    const m = key.startsWith(`${name}_bucket{`) ? /le="([^"]+)"/.exec(key) : null;
    if (m?.[1] && m[1] !== "+Inf") bounds.add(Number(m[1]));
  }
  for (const le of [...bounds].sort((a, b) => a - b)) {
    if (sample(s, `${name}_bucket`, { ...labels, le: String(le) }) >= q * count) return le;
  }
  return Number.POSITIVE_INFINITY;
}

/** What a histogram gained between two scrapes: observations and their sum (seconds). */
export function histogramDelta(
  before: Samples,
  after: Samples,
  name: string,
  labels: Record<string, string> = {},
): { count: number; sum: number } {
  return {
    count: sample(after, `${name}_count`, labels) - sample(before, `${name}_count`, labels),
    sum: sample(after, `${name}_sum`, labels) - sample(before, `${name}_sum`, labels),
  };
}
