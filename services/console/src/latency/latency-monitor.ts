import type { Logger } from "@hotpin/runtime";
import type { LatencyPoint, LatencySeries } from "../api-types";
import { add, type Buckets, parseHistogram, quantile, STAGES, type Stage, subtract, total } from "./histogram";

const METRIC = "hotpin_edge_stage_seconds";

export interface LatencyMonitorOptions {
  urls: string[];
  intervalMs: number;
  windowMs: number;
  points: number;
  log: Logger;
  onPoint?: (point: LatencyPoint, unreachable: string[]) => void;
  fetchTimeoutMs?: number;
}

/** Bucket counts of every stage, summed over every replica since it started. */
type Snapshot = { t: number; stages: Map<Stage, Buckets> };

/**
 * First-audio latency over time from the edge replicas' own histograms (the numbers the edge
 * measures, not an estimate from event times): every interval each /metrics is read, and a point
 * holds the quantiles of the replies observed in the window before it.
 */
export class LatencyMonitor {
  /** Per replica URL: the last counts read (to take differences, with restarts handled). */
  private readonly last = new Map<string, Map<Stage, Buckets>>();
  /** Running sum of every replica's increments, one snapshot per scrape, over one window. */
  private readonly history: Snapshot[] = [];
  private sum = new Map<Stage, Buckets>();
  private readonly points: LatencyPoint[] = [];
  private unreachable: string[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: LatencyMonitorOptions) {}

  start(): void {
    const tick = () => void this.scrape().catch((err) => this.opts.log.warn({ err }, "latency scrape failed"));
    tick();
    this.timer = setInterval(tick, this.opts.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  series(): LatencySeries {
    return { windowMs: this.opts.windowMs, points: [...this.points], unreachable: this.unreachable };
  }

  async scrape(now = Date.now()): Promise<LatencyPoint> {
    const unreachable: string[] = [];
    await Promise.all(
      this.opts.urls.map(async (url) => {
        try {
          const res = await fetch(url, { signal: AbortSignal.timeout(this.opts.fetchTimeoutMs ?? 3000) });
          if (!res.ok) throw new Error(`HTTP ${res.status}`);
          const parsed = parseHistogram(await res.text(), METRIC, "stage");
          const before = this.last.get(url);
          for (const stage of STAGES) {
            const b = parsed.get(stage);
            if (!b) continue;
            const delta = subtract(b, before?.get(stage));
            this.sum.set(stage, add(this.sum.get(stage) ?? new Map(), delta));
          }
          this.last.set(url, new Map(STAGES.flatMap((s) => (parsed.has(s) ? [[s, parsed.get(s)!]] : []))));
        } catch {
          unreachable.push(url);
        }
      }),
    );
    this.unreachable = unreachable;
    this.history.push({ t: now, stages: new Map(this.sum) });
    while (this.history.length > 1 && this.history[1]!.t <= now - this.opts.windowMs) this.history.shift();
    const point = this.point(now);
    this.points.push(point);
    if (this.points.length > this.opts.points) this.points.shift();
    this.opts.onPoint?.(point, unreachable);
    return point;
  }

  private point(now: number): LatencyPoint {
    const from = this.history[0]!;
    // Counts before the console's first read are the baseline, not replies of the first window.
    const windowed = (s: Stage) => subtract(this.sum.get(s) ?? new Map(), from.stages.get(s));
    const ms = (v: number | undefined) => (v === undefined ? null : Math.round(v * 1000));
    const first = windowed("first_audio");
    const p50 = (s: Stage) => quantile(windowed(s), 0.5);
    const stt = p50("stt_final");
    const llm = p50("llm_first_segment");
    const tts = p50("tts_first_chunk");
    const fa = quantile(first, 0.5);
    // Each stage's share: the median time to its mark minus the median time to the mark before.
    const share = (to: number | undefined, from: number | undefined) =>
      to === undefined ? null : ms(Math.max(0, to - (from ?? 0)));
    return {
      t: now,
      replies: total(first),
      firstAudioP50: ms(fa),
      firstAudioP95: ms(quantile(first, 0.95)),
      sttMs: share(stt, 0),
      llmMs: share(llm, stt),
      ttsMs: share(tts, llm),
      edgeMs: share(fa, tts),
    };
  }
}
