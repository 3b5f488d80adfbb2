import { BargeInGuard, type BargeInOptions } from "./barge-in";
import { FrameSplitter, frameDbfs } from "./frames";
import { TurnDetector, type TurnEvent, type TurnOptions } from "./turn-detector";
import { type VadFrameMs, type VadMode, type VadSampleRate, WebRtcVad } from "./webrtc-vad";

export interface ListenerOptions {
  sampleRate: VadSampleRate;
  frameMs: VadFrameMs;
  mode: VadMode;
  turn: Omit<TurnOptions, "frameMs">;
  /** False for devices that hear themselves (no echo cancellation): speech over a reply is ignored. */
  bargeIn: BargeInOptions | false;
}

/** Defaults measured on LibriVox speech with pauses (see the package README). */
export const DEFAULT_LISTENER_OPTIONS: ListenerOptions = {
  sampleRate: 16_000,
  frameMs: 20,
  mode: 3,
  turn: {
    windowFrames: 5,
    voicedFrames: 3,
    preRollMs: 300,
    endSilenceMs: 600,
    minSpeechMs: 200,
    maxUtteranceMs: 30_000,
  },
  bargeIn: false,
};

export const DEFAULT_BARGE_IN: BargeInOptions = { ignoreFirstMs: 500, minDbfs: -40, minSpeechMs: 120, maxGapMs: 100 };

export type ListenerEvent =
  | TurnEvent
  /** The user talks over the reply: cancel it. The utterance's own `start` follows at once. */
  | { type: "barge-in"; atMs: number; speechAtMs: number };

/**
 * One always-listening session: PCM in, turn events out. While a reply plays, a new utterance is
 * held back; it becomes a turn only when the barge-in guard says the user really interrupts (or
 * when the reply ends, with barge-in on and some of it as loud as the guard asks), so a device that
 * hears its own reply does not answer it.
 */
export class Listener {
  private readonly splitter: FrameSplitter;
  private readonly turns: TurnDetector;
  private readonly guard: BargeInGuard | undefined;
  private samples = 0;
  private playing = false;
  /** Events of an utterance that began during playback, not yet let through. */
  private held: TurnEvent[] | undefined;
  /** Stream time the held utterance began at. */
  private heldSinceMs = 0;

  private constructor(
    private readonly vad: WebRtcVad,
    readonly options: ListenerOptions,
  ) {
    this.splitter = new FrameSplitter(vad.frameSamples);
    this.turns = new TurnDetector({ ...options.turn, frameMs: options.frameMs });
    this.guard = options.bargeIn ? new BargeInGuard(options.bargeIn, options.frameMs) : undefined;
  }

  static async create(options: ListenerOptions = DEFAULT_LISTENER_OPTIONS): Promise<Listener> {
    const vad = await WebRtcVad.create({
      sampleRate: options.sampleRate,
      frameMs: options.frameMs,
      mode: options.mode,
    });
    return new Listener(vad, options);
  }

  /** Stream time so far: the duration of the audio fed. */
  get positionMs(): number {
    return (this.samples * 1000) / this.options.sampleRate;
  }

  /** Feeds PCM16 LE mono at the listener's rate, in chunks of any size. */
  push(pcm: Buffer): ListenerEvent[] {
    const out: ListenerEvent[] = [];
    for (const pcmFrame of this.splitter.push(pcm)) {
      const frame = {
        pcm: pcmFrame,
        atMs: this.positionMs,
        voiced: this.vad.isSpeech(pcmFrame),
        dbfs: frameDbfs(pcmFrame),
      };
      this.samples += pcmFrame.length;
      const wasSpeaking = this.turns.speaking;
      const events = this.turns.push(frame);
      if (this.playing && !wasSpeaking && this.turns.speaking) {
        this.held = [];
        this.heldSinceMs = frame.atMs;
      }
      if (this.held) {
        this.held.push(...events);
        if (events.some((e) => e.type === "end" || e.type === "discard")) this.held = undefined;
      } else {
        out.push(...events);
      }
      const speechAtMs = this.guard?.push(frame);
      if (speechAtMs !== undefined) {
        out.push({ type: "barge-in", atMs: frame.atMs + this.options.frameMs, speechAtMs });
        this.stopPlayback(out);
      }
    }
    return mergeAudio(out);
  }

  /** The reply's audio starts reaching the device now (in stream time). */
  playbackStarted(): void {
    this.playing = true;
    this.guard?.playbackStarted(this.positionMs);
  }

  /**
   * The reply has finished playing on the device. Returns what was held back: the utterance
   * under way, as a turn, when barge-in is on; nothing when it is off (it was likely the echo).
   */
  playbackEnded(): ListenerEvent[] {
    const out: ListenerEvent[] = [];
    this.stopPlayback(out);
    return mergeAudio(out);
  }

  /** Forgets the utterance under way and the pre-roll (a new listening phase). */
  reset(): void {
    this.turns.reset();
    this.splitter.reset();
    this.held = undefined;
  }

  free(): void {
    this.vad.free();
  }

  private stopPlayback(out: ListenerEvent[]): void {
    if (!this.playing) return;
    this.playing = false;
    // Held speech becomes the turn only with barge-in on and if some of it was as loud as a user
    // (the guard's level): quieter speech over the reply is most likely the reply's own echo.
    const userLike = this.guard?.lastLoudAtMs !== undefined && this.guard.lastLoudAtMs >= this.heldSinceMs;
    this.guard?.playbackEnded();
    if (this.held && userLike) out.push(...this.held);
    else if (this.held) this.turns.reset();
    this.held = undefined;
  }
}

/** Joins consecutive audio events, so a large push yields one buffer per stretch rather than one per frame. */
function mergeAudio(events: ListenerEvent[]): ListenerEvent[] {
  const out: ListenerEvent[] = [];
  let pending: Buffer[] = [];
  const flush = () => {
    if (pending.length > 0) out.push({ type: "audio", audio: Buffer.concat(pending) });
    pending = [];
  };
  for (const e of events) {
    if (e.type === "audio") pending.push(e.audio);
    else {
      flush();
      out.push(e);
    }
  }
  flush();
  return out;
}
