import type { EdgeConfig } from "../config";

/** What a recording that stopped receiving audio means. */
export type QuietDecision = "process" | "stall" | "close";

/**
 * How a dialect's turns start and end, as a strategy the session runs: whether audio alone
 * starts a turn, and what a recording that goes quiet means and after how long.
 */
export interface TurnDetector {
  readonly name: string;
  /** Audio while idle starts a recording (the wire has no start message). */
  readonly startsOnAudio: boolean;
  /**
   * Who decides where speech starts and ends: the device (its messages, or its stream stopping)
   * or the server, with a voice-activity listener on the audio (session/vad-turns.ts).
   */
  readonly endpointing: "device" | "server";
  quiet(cfg: EdgeConfig): { ms: number; decision: QuietDecision };
}

/** Explicit start and stop messages; audio that stops arriving stalls the turn for a re-record (spec). */
export const explicitStop: TurnDetector = {
  name: "explicit-stop",
  startsOnAudio: false,
  endpointing: "device",
  quiet: (cfg) => ({ ms: cfg.chunkTimeoutMs, decision: "stall" }),
};

/**
 * Audio starts the turn; a stop message or silence on the wire ends it and what arrived is
 * processed (the firmware aborts its stream on a missed ACK: docs/protocols/hotpin-firmware.md).
 */
export const stopOrSilence: TurnDetector = {
  name: "stop-or-silence",
  startsOnAudio: true,
  endpointing: "device",
  quiet: (cfg) => ({ ms: cfg.firmwareSilenceMs, decision: "process" }),
};

/**
 * One upload per connection (DAP1): the first chunk starts the turn, the last ends it; a
 * transfer that stops in between is abandoned and the connection closed.
 */
export const oneShot: TurnDetector = {
  name: "one-shot",
  startsOnAudio: true,
  endpointing: "device",
  quiet: (cfg) => ({ ms: cfg.dap1TransferTimeoutMs, decision: "close" }),
};

/**
 * Always-listening devices (Sesame-style, xiaozhi auto/realtime): the device streams without
 * pause and the server's VAD decides where speech starts (with its pre-roll) and ends (after
 * HOTPIN_VAD_END_SILENCE_MS), dropping bursts under the minimum speech and cutting at the maximum
 * utterance. Audio before speech is never a recording. A dialect may still send `start_recording`
 * (the VAD is then ignored until its `stop_recording`: xiaozhi manual mode) and `stop_recording`
 * to end a VAD turn at once. A stream that stops mid-turn is processed as it is.
 */
export const vad: TurnDetector = {
  name: "vad",
  startsOnAudio: true,
  endpointing: "server",
  quiet: (cfg) => ({ ms: cfg.chunkTimeoutMs, decision: "process" }),
};

/** The detector's quiet timer for one recording: re-armed by every chunk, decided once. */
export class QuietTimer {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly ms: number,
    private readonly onQuiet: () => void,
  ) {
    this.touch();
  }

  touch(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(this.onQuiet, this.ms);
  }

  stop(): void {
    clearTimeout(this.timer);
  }
}
