/** Cumulative bucket counts of one histogram: upper bound (seconds, Infinity last) → count. */
export type Buckets = Map<number, number>;

/** Stage marks the edge measures from the end of speech (services/edge-ws: hotpin_edge_stage_seconds). */
export const STAGES = ["stt_final", "llm_first_segment", "tts_first_chunk", "first_audio"] as const;
export type Stage = (typeof STAGES)[number];

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** The buckets of `metric` per value of `by` from a Prometheus text exposition. */
export function parseHistogram(text: string, metric: string, by: string): Map<string, Buckets> {
  const out = new Map<string, Buckets>();
  for (const line of text.split("\n")) {
    const m = LINE.exec(line);
    if (!m || m[1] !== `${metric}_bucket`) continue;
    const labels: Record<string, string> = {};
    for (const l of m[2]!.matchAll(LABEL)) labels[l[1]!] = l[2]!;
    const key = labels[by];
    const le = labels.le === "+Inf" ? Number.POSITIVE_INFINITY : Number(labels.le);
    const count = Number(m[3]);
    if (key === undefined || Number.isNaN(le) || !Number.isFinite(count)) continue;
    const b = out.get(key) ?? new Map<number, number>();
    out.set(key, b);
    b.set(le, (b.get(le) ?? 0) + count);
  }
  return out;
}

/** later − earlier per bucket; a counter that went down (the replica restarted) counts from zero. */
export function subtract(later: Buckets, earlier: Buckets | undefined): Buckets {
  const out: Buckets = new Map();
  let reset = false;
  for (const [le, n] of later) if (n < (earlier?.get(le) ?? 0)) reset = true;
  for (const [le, n] of later) out.set(le, reset ? n : n - (earlier?.get(le) ?? 0));
  return out;
}

export function add(a: Buckets, b: Buckets): Buckets {
  const out: Buckets = new Map(a);
  for (const [le, n] of b) out.set(le, (out.get(le) ?? 0) + n);
  return out;
}

export function total(b: Buckets): number {
  return b.get(Number.POSITIVE_INFINITY) ?? Math.max(0, ...b.values());
}

/**
 * The q-quantile of cumulative buckets, interpolated linearly inside the bucket it falls in (as
 * Prometheus's histogram_quantile); in the +Inf bucket the highest finite bound. Undefined when empty.
 */
export function quantile(b: Buckets, q: number): number | undefined {
  const bounds = [...b.keys()].sort((x, y) => x - y);
  const n = total(b);
  if (n <= 0) return undefined;
  const rank = q * n;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const le of bounds) {
    const count = b.get(le)!;
    if (count >= rank) {
      if (!Number.isFinite(le)) return lowerBound;
      const inBucket = count - lowerCount;
      return inBucket <= 0 ? le : lowerBound + ((le - lowerBound) * (rank - lowerCount)) / inBucket;
    }
    lowerBound = le;
    lowerCount = count;
  }
  return lowerBound;
}
