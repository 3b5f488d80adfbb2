import type { IncomingHttpHeaders } from "node:http";
import type { EdgeConfig } from "../config";
import type { PaceOptions } from "../pacer";
import type { ApologyKind } from "../pipeline/apologies";
import type { ErrorCode, Input, Output } from "../session/model";
import type { TurnDetector } from "../session/turn-detectors";
import type { Transport } from "../transport";

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

/**
 * One sentence of a reply: its audio (PCM16 mono at the dialect's `outputRate`) with the text it
 * says, so a dialect can announce the sentence before its audio (xiaozhi `sentence_start`).
 * Operator speech is split by TTS, which names no text: its first segment carries the whole text.
 */
export interface ReplySegment {
  pcm: Buffer;
  text: string;
  /** 0 for the reply's first sentence. */
  index: number;
}

/** The spoken reply as the pipeline produces it: one segment per sentence. */
export interface Reply {
  segments: AsyncIterable<ReplySegment>;
  /** The full answer text once `segments` is exhausted; before that (an interrupted reply), the sentences so far. */
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
 * What the core needs to know about a dialect, declared once by its module: the session reads
 * these instead of asking which dialect it serves.
 */
export interface Capabilities {
  /** How a turn starts and ends (session/turn-detectors.ts). */
  readonly turn: TurnDetector;
  /**
   * PCM16 mono sample rate of the audio the dialect hands the session (after its own decoding);
   * the session resamples it once to the internal 16 kHz (session/rates.ts).
   */
  readonly inputRate: number;
  /** PCM16 mono sample rate of the reply audio the dialect plays: what TTS is asked for. */
  readonly outputRate: number;
  /**
   * Whether user speech over a reply interrupts it (only with the `vad` turn detector). Off for
   * devices without echo cancellation that would interrupt themselves.
   */
  readonly bargeIn: boolean;
  /** Whether state changes are announced (state_sync). */
  readonly announcesState: boolean;
  /** Whether partial transcripts are shown on the device. */
  readonly partials: boolean;
  /** Audio arriving after the stop: dropped quietly (frames in flight) or refused. */
  readonly lateAudio: "drop" | "refuse";
}

/**
 * One device protocol: wire messages to internal inputs, internal outputs to wire messages,
 * and how reply audio goes out. Holds only per-connection framing state.
 */
export interface Dialect {
  readonly name: string;
  readonly capabilities: Capabilities;
  text(raw: string): Parsed;
  binary(data: Buffer): Parsed;
  send(out: Output): void;
  play(reply: Reply, ctl: PlaybackControl): Promise<PlaybackResult>;
  /** The connection ended: release what the dialect holds (timers, waiters). */
  dispose?(): void;
}

/** How a WebSocket dialect is recognised on the shared `/ws` endpoint (docs/protocols/hotpin-spec.md). */
export interface Detection {
  /**
   * A WebSocket path of the dialect's own (the path its clients have built in): connections
   * there are this dialect, with a device token (its device is the device) in the `tokenParam`
   * query parameter.
   */
  route?: {
    path: string;
    tokenParam: string;
    perMessageDeflate: boolean;
    /** Why the upgrade's other query parameters are refused (400), or undefined when they are fine. */
    checkQuery?(params: URLSearchParams): string | undefined;
  };
  /** The connection URL alone names the dialect. */
  url?(url: URL): boolean;
  /** The first text frame, parsed as a JSON object, is this dialect's handshake. */
  firstMessage?(msg: Record<string, unknown>): boolean;
}

/** Speech for prompts of dialects that cannot show text: PCM16 mono 16 kHz (PROMPT_RATE), or undefined when TTS cannot make it. */
export interface PromptSpeech {
  get(kind: ApologyKind): Promise<Buffer | undefined>;
}

/** What a dialect is created with, besides its transport. */
export interface DialectContext {
  cfg: EdgeConfig;
  speech: PromptSpeech;
  /** The device id the transport already establishes (DAP1: the client address or its mapped name). */
  deviceId?: string;
}

/** What every dialect folder exports from its index: detection, creation and capabilities. */
export interface DialectModule {
  readonly name: string;
  readonly capabilities: Capabilities;
  /** How it is recognised on a shared endpoint; empty for a dialect with its own listener. */
  readonly detect: Detection;
  create(transport: Transport, ctx: DialectContext): Dialect;
}

/**
 * A dialect on a WebSocket path of its own whose device is named by the upgrade's headers
 * (xiaozhi `Device-Id`): the headers are checked before the upgrade, the token must cover that
 * device, and the device is identified by its first message (the dialect's hello).
 */
export interface HeaderRoute {
  /** With its trailing slash; the path without it is served too. */
  readonly path: string;
  /** A close without a close frame (1006) is the device's normal hang-up, not an abnormal end. */
  readonly hangupIsNormal: boolean;
  /** The dialect of this connection and its device, or why the headers are refused (400). */
  accept(headers: IncomingHttpHeaders): { module: DialectModule; deviceId: string } | { refusal: string };
}
