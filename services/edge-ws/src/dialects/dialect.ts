import type { PaceOptions } from "../pacer";
import type { ErrorCode, Input, Output } from "../session/model";
import type { Transport } from "../transport";

export type DialectName = "firmware" | "spec";

/** A wire message turned into zero or more inputs, or refused with a protocol error. */
export type Parsed = { inputs: Input[] } | { error: { code: ErrorCode; message: string } };

export const none: Parsed = { inputs: [] };
export const one = (input: Input): Parsed => ({ inputs: [input] });
export const refuse = (code: ErrorCode, message: string): Parsed => ({ error: { code, message } });

/** A text frame as a JSON object, or the refusal both dialects give for anything else. */
export function jsonObject(raw: string): { message: Record<string, unknown> } | { refusal: Parsed } {
  let msg: unknown;
  try {
    msg = JSON.parse(raw);
  } catch {
    return { refusal: refuse("bad_json", "text frames must be JSON") };
  }
  if (typeof msg !== "object" || msg === null || Array.isArray(msg)) {
    return { refusal: refuse("bad_message", "expected an object") };
  }
  return { message: msg as Record<string, unknown> };
}

/** The spoken reply as the pipeline produces it: PCM16 mono 16 kHz, one buffer per sentence. */
export interface Reply {
  segments: AsyncIterable<Buffer>;
  /** The full answer text; complete once `segments` is exhausted. */
  text(): string;
  /** An apology after a failure: never offered for download. */
  apology: boolean;
}

export interface PlaybackControl {
  /** Resolves true when the device said ready_for_playback (or had already), false on timeout. */
  waitReady(timeoutMs: number): Promise<boolean>;
  /** Stores the WAV and returns a link that expires. */
  offerDownload(wav: Buffer): Promise<{ url: string; expiresInSec: number }>;
  pace: Omit<PaceOptions, "send" | "onFirstFrame">;
  playbackReadyTimeoutMs: number;
  /** Marks the first reply byte handed to the transport (latency metric, trace event). */
  firstAudio(): void;
  /**
   * The whole reply went out: awaited before the dialect's last playback message (spec tts_done,
   * firmware zero-length frame), so the session's ttsDone event is stored before the device
   * hears that playback ended.
   */
  beforeDone(bytes: number): Promise<void>;
}

export interface PlaybackResult {
  outcome: "played" | "offered" | "aborted";
  bytes: number;
}

/**
 * One device protocol: wire messages to internal inputs, internal outputs to wire messages,
 * and how reply audio goes out. Holds only per-connection framing state.
 */
export interface Dialect {
  readonly name: DialectName;
  /** Audio while idle starts a recording (the firmware has no start message). */
  readonly audioStartsRecording: boolean;
  /** A recording that goes quiet is processed (firmware, seed 001) or stalls for a re-record (spec). */
  readonly onQuietRecording: "process" | "stall";
  /** Whether state changes are announced (state_sync). */
  readonly announcesState: boolean;
  /** Whether partial transcripts are shown on the device. */
  readonly wantsPartials: boolean;
  /** Audio arriving after the stop is dropped quietly (frames in flight) rather than refused. */
  readonly dropsLateAudio: boolean;
  text(raw: string): Parsed;
  binary(data: Buffer): Parsed;
  send(out: Output): void;
  play(reply: Reply, ctl: PlaybackControl): Promise<PlaybackResult>;
}

export type DialectFactory = (transport: Transport) => Dialect;
