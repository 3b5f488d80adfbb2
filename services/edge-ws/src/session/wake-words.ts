import type { stt } from "@hotpin/contracts";
import type { Logger } from "@hotpin/runtime";
import type { EventSink } from "../events";
import type { RetryPolicy } from "../pipeline/retry";
import { WakeSpotter } from "../pipeline/wake-spotter";

/**
 * What wake words mean to an always-listening session (HOTPIN_EDGE_WAKE_WORDS):
 * - `off`: no spotting;
 * - `events`: the STT service spots the session's continuous audio and each detection is a
 *   `wake_word` event; every turn the VAD ends is answered;
 * - `required`: as `events`, and a turn is answered only when a wake word was heard within the
 *   window before its end of speech (or arrives within the grace after it); others are dropped.
 */
export type WakeMode = "off" | "events" | "required";

export interface WakeWordsOptions {
  mode: Exclude<WakeMode, "off">;
  windowMs: number;
  /** A detection of a phrase at the very end of an utterance may come a little after the VAD's end. */
  graceMs: number;
  stt: stt.SpeechToTextClient;
  deviceId: string;
  sessionId: string;
  events: EventSink;
  retry: RetryPolicy;
  log: Logger;
  onHeard: () => void;
}

/** One session's wake-word spotting (pipeline/wake-spotter.ts) and, when required, its gate on turns. */
export class WakeWords {
  private readonly spotter: WakeSpotter;
  private heardAt = Number.NEGATIVE_INFINITY;
  private waiters: ((heard: boolean) => void)[] = [];

  constructor(private readonly opts: WakeWordsOptions) {
    this.spotter = new WakeSpotter(opts.stt, {
      deviceId: opts.deviceId,
      sessionId: opts.sessionId,
      retry: opts.retry,
      events: opts.events,
      onWake: () => {
        opts.onHeard();
        this.heard();
      },
      // The session goes on without wake words; with `required`, its turns are then dropped.
      onGiveUp: (err) => opts.log.warn({ err: (err as Error).message }, "wake-word spotting stopped"),
    });
  }

  /** A wake word was heard, by the spotter or by the device itself (xiaozhi `listen detect`): the window opens. */
  heard(): void {
    this.heardAt = performance.now();
    for (const w of this.waiters.splice(0)) w(true);
  }

  /** The session's 16 kHz audio, all of it: a phrase may begin a turn or stand alone. */
  write(pcm: Buffer): void {
    this.spotter.write(pcm);
  }

  /** Whether turns wait for a wake word. */
  get required(): boolean {
    return this.opts.mode === "required";
  }

  /** A wake word within the window: the turn whose speech just ended is answered. */
  recent(): boolean {
    return performance.now() - this.heardAt <= this.opts.windowMs;
  }

  /** For a turn that is not (yet) `recent`: true when a detection arrives within the grace. */
  late(): Promise<boolean> {
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== done);
        resolve(ok);
      };
      const timer = setTimeout(() => done(this.recent()), this.opts.graceMs);
      this.waiters.push(done);
    });
  }

  stop(): void {
    this.spotter.stop();
    for (const w of this.waiters.splice(0)) w(false);
  }
}
