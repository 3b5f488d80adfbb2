import type { Frame } from "./turn-detector";

export interface BargeInOptions {
  /** Frames in the first part of playback never count (the device's own voice reaching its mic). */
  ignoreFirstMs: number;
  /** A voiced frame counts only this loud (RMS, dBFS): echo from a speaker is usually quieter. */
  minDbfs: number;
  /** Loud voiced time needed before the user counts as interrupting. */
  minSpeechMs: number;
  /** A gap of this much quiet or unvoiced time starts the count again. */
  maxGapMs: number;
}

/**
 * Decides, frame by frame while a reply plays, whether the user is talking over it. Works in
 * stream time (the frames' `atMs`), so it needs no timers and replays the same way every time.
 */
export class BargeInGuard {
  private playingSinceMs: number | undefined;
  private loudMs = 0;
  private gapMs = 0;
  private firstLoudAtMs = 0;
  /** The latest loud voiced frame of this playback, the first part included: user-like speech. */
  lastLoudAtMs: number | undefined;

  constructor(
    readonly options: BargeInOptions,
    private readonly frameMs: number,
  ) {}

  get playing(): boolean {
    return this.playingSinceMs !== undefined;
  }

  playbackStarted(atMs: number): void {
    this.playingSinceMs = atMs;
    this.loudMs = 0;
    this.gapMs = 0;
    this.lastLoudAtMs = undefined;
  }

  playbackEnded(): void {
    this.playingSinceMs = undefined;
  }

  /** The stream time the interrupting speech began at, once it qualifies; otherwise undefined. */
  push(frame: Frame): number | undefined {
    const o = this.options;
    if (this.playingSinceMs === undefined) return undefined;
    const loud = frame.voiced && frame.dbfs >= o.minDbfs;
    if (loud) this.lastLoudAtMs = frame.atMs;
    if (frame.atMs < this.playingSinceMs + o.ignoreFirstMs) return undefined;
    if (loud) {
      if (this.loudMs === 0) this.firstLoudAtMs = frame.atMs;
      this.loudMs += this.frameMs;
      this.gapMs = 0;
    } else if (this.loudMs > 0) {
      this.gapMs += this.frameMs;
      if (this.gapMs >= o.maxGapMs) this.loudMs = 0;
    }
    return this.loudMs >= o.minSpeechMs ? this.firstLoudAtMs : undefined;
  }
}
