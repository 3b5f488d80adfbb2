import { frameBytes } from "./frames";

/** One classified frame of the stream, as the turn detector and the barge-in guard see it. */
export interface Frame {
  pcm: Int16Array;
  /** Stream time of the frame's start: samples fed so far, not a wall clock. */
  atMs: number;
  voiced: boolean;
  dbfs: number;
}

export interface TurnOptions {
  frameMs: number;
  /** Frames looked at together to tell voice from a click: "voice" is `voicedFrames` of the last `windowFrames`. */
  windowFrames: number;
  voicedFrames: number;
  /** Audio kept from before the speech start, so the first syllable reaches STT whole. */
  preRollMs: number;
  /** Unvoiced time that ends an utterance. */
  endSilenceMs: number;
  /** Utterances with less voiced time than this are dropped as noise. */
  minSpeechMs: number;
  /** An utterance is cut here even if the speaker goes on. */
  maxUtteranceMs: number;
}

export type EndReason = "silence" | "max-length";

export type TurnEvent =
  /** `audio` is the pre-roll plus the frames that started the speech. */
  | { type: "start"; atMs: number; detectedAtMs: number; audio: Buffer }
  | { type: "audio"; audio: Buffer }
  | { type: "end"; atMs: number; reason: EndReason; speechMs: number }
  /** What started as speech was too short to be an utterance: whoever streamed it onward drops it. */
  | { type: "discard"; atMs: number; speechMs: number };

/**
 * Finds utterances in a stream of classified frames. A pure state machine: it keeps no clock of
 * its own, so the same frames always give the same events.
 */
export class TurnDetector {
  private readonly window: boolean[] = [];
  private voicedInWindow = 0;
  private readonly ring: Frame[] = [];
  private readonly ringFrames: number;
  private inSpeech = false;
  private startedAtMs = 0;
  private voicedMs = 0;
  private silenceMs = 0;

  constructor(readonly options: TurnOptions) {
    this.ringFrames = Math.ceil(options.preRollMs / options.frameMs) + options.windowFrames;
  }

  get speaking(): boolean {
    return this.inSpeech;
  }

  push(frame: Frame): TurnEvent[] {
    const o = this.options;
    this.window.push(frame.voiced);
    if (frame.voiced) this.voicedInWindow++;
    if (this.window.length > o.windowFrames && this.window.shift()) this.voicedInWindow--;
    const voice = this.voicedInWindow >= o.voicedFrames;

    if (!this.inSpeech) {
      this.ring.push(frame);
      if (this.ring.length > this.ringFrames) this.ring.shift();
      if (!voice) return [];
      this.inSpeech = true;
      // The speech began at the first voiced frame of the window that decided it.
      const first = this.window.length - this.window.indexOf(true);
      this.startedAtMs = frame.atMs - (first - 1) * o.frameMs;
      this.voicedMs = this.voicedInWindow * o.frameMs;
      this.silenceMs = 0;
      const audio = Buffer.concat(this.ring.map((f) => frameBytes(f.pcm)));
      this.ring.length = 0;
      return [{ type: "start", atMs: this.startedAtMs, detectedAtMs: frame.atMs + o.frameMs, audio }];
    }

    const events: TurnEvent[] = [{ type: "audio", audio: frameBytes(frame.pcm) }];
    const endMs = frame.atMs + o.frameMs;
    if (frame.voiced) this.voicedMs += o.frameMs;
    this.silenceMs = voice ? 0 : this.silenceMs + o.frameMs;
    if (this.silenceMs >= o.endSilenceMs) events.push(this.finish(endMs, "silence"));
    else if (endMs - this.startedAtMs >= o.maxUtteranceMs) events.push(this.finish(endMs, "max-length"));
    return events;
  }

  /** Forgets any utterance in progress and the pre-roll (a new listening phase). */
  reset(): void {
    this.window.length = 0;
    this.voicedInWindow = 0;
    this.ring.length = 0;
    this.inSpeech = false;
  }

  private finish(atMs: number, reason: EndReason): TurnEvent {
    const speechMs = this.voicedMs;
    this.reset();
    if (speechMs < this.options.minSpeechMs) return { type: "discard", atMs, speechMs };
    return { type: "end", atMs, reason, speechMs };
  }
}
