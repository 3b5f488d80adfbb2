import { performance } from "node:perf_hooks";

export type Direction = "out" | "in" | "note";

export interface TimelineEvent {
  /** Milliseconds since the device started. */
  atMs: number;
  dir: Direction;
  text: string;
}

/** The device's protocol log: every frame sent and received, with its time, in order. */
export class Timeline {
  readonly events: TimelineEvent[] = [];
  private readonly start = performance.now();

  constructor(private readonly onEvent?: (e: TimelineEvent) => void) {}

  /** Milliseconds since the device started. */
  now(): number {
    return performance.now() - this.start;
  }

  add(dir: Direction, text: string, atMs = this.now()): TimelineEvent {
    const e = { atMs, dir, text };
    this.events.push(e);
    this.onEvent?.(e);
    return e;
  }
}

const ARROWS: Record<Direction, string> = { out: "->", in: "<-", note: "--" };

export function formatEvent(e: TimelineEvent, deviceId?: string): string {
  const at = e.atMs.toFixed(1).padStart(9);
  return `${at} ms ${deviceId ? `${deviceId} ` : ""}${ARROWS[e.dir]} ${e.text}`;
}

/** One-line summary of a text frame; long frames are cut so the timeline stays readable. */
export function summarizeText(raw: string, max = 200): string {
  return raw.length > max ? `${raw.slice(0, max)}… (${raw.length} chars)` : raw;
}

export function summarizeBinary(bytes: number): string {
  return `binary ${bytes} B`;
}
