import type { BackoffOptions } from "./backoff";
import type { ErrorInfo } from "./errors";
import type { Pacing } from "./stream-audio";
import type { TimelineEvent } from "./timeline";

export type Dialect = "firmware" | "spec";

export interface DeviceOptions {
  /** Server base, e.g. "ws://127.0.0.1:8000" (http:// works too); the dialect adds "/ws". */
  url: string;
  dialect: Dialect;
  /** Session/device id (firmware default "esp32-cam-hotpin"). */
  deviceId: string;
  token?: string;
  /** PCM s16le 16 kHz mono to speak (see loadSpeech). */
  pcm: Buffer;
  /** Utterances spoken one after another on the same connection. Default 1. */
  utterances?: number;
  /** Default 4096 (firmware) or 16000 (spec). */
  chunkBytes?: number;
  /** Default "realtime". */
  pacing?: Pacing;
  /** Pause after each chunk; default 20 ms (the firmware's). */
  chunkPauseMs?: number;
  /** Firmware: wait after the connected status before streaming; default 2000 ms. */
  handshakeDelayMs?: number;
  /** Block while this many chunks are unacknowledged; default 2. */
  maxUnacked?: number;
  /** Abort the stream when blocked this long without an ACK; default 1000 ms. */
  ackTimeoutMs?: number;
  /** Upgrade and handshake reply timeout; default 10 s. */
  connectTimeoutMs?: number;
  /** Longest silence from the server while waiting for the reply; default 30 s (the firmware's network timeout). */
  replyTimeoutMs?: number;
  /** A JPEG uploaded to POST /image before each utterance. */
  image?: Buffer;
  /** Spec: answer tts_ready with ready_for_playback. Default true. */
  readyForPlayback?: boolean;
  /** Spec: fetch offer_download URLs (with the token) and validate the WAV. Default true. */
  fetchDownload?: boolean;
  /** Spec: wait for {"type":"ready"} before sending hello. Default false. */
  waitForReady?: boolean;
  /** Spec: extra hello capabilities, merged over {psram:false, max_chunk_bytes}. */
  capabilities?: Record<string, unknown>;
  /** Spec: send {"type":"ping"} at this interval (0 = never). Default 0. */
  pingIntervalMs?: number;
  /** Reconnects allowed per utterance when the connection drops. Default 0. */
  retries?: number;
  backoff?: Partial<BackoffOptions>;
  /** Called for every timeline event as it happens (for live printing). */
  onEvent?: (e: TimelineEvent) => void;
}

export type UtteranceOutcome =
  /** The reply audio arrived whole and valid (streamed, or fetched from offer_download). */
  | "complete"
  /** The server answered with an error (firmware "Could not understand audio", spec error). */
  | "server_error"
  /** Spec: request_user_intervention. */
  | "intervention"
  /** Spec: offer_download that the device did not fetch. */
  | "offered";

export interface UtteranceResult {
  index: number;
  outcome: UtteranceOutcome;
  chunksSent: number;
  bytesSent: number;
  /** The device gave up on a missing ACK and sent end of speech early. */
  streamAborted: boolean;
  /** Timeline time of end of speech (EOS / recording_stopped). */
  endOfSpeechAtMs?: number;
  /** End of speech → first reply audio byte. */
  firstAudioMs?: number;
  /** Chunk → ACK latencies measured by the device. */
  ackLatenciesMs: number[];
  partials: string[];
  transcript?: string;
  hasImage?: boolean;
  response?: string;
  /** Spec: duration announced in tts_ready. */
  announcedDurationMs?: number;
  /** Spec: WAV segments in the reply (several with the edge's tts_segments capability). */
  ttsSegments?: number;
  /** The reply as a WAV file (segments joined). */
  replyWav?: Buffer;
  /** Spec: reasons of request_rerecord (the device spoke again each time). */
  rerecords: string[];
  downloadUrl?: string;
  serverError?: { message: string; code?: string };
  /** Things a real device tolerates but that look wrong (e.g. bytes before RIFF). */
  warnings: string[];
}

export interface DeviceResult {
  deviceId: string;
  dialect: Dialect;
  /** Every utterance complete, no error. */
  ok: boolean;
  utterances: UtteranceResult[];
  /** Why the device stopped early, if it did. */
  error?: ErrorInfo;
  /** Connections opened (1 + reconnects). */
  connections: number;
  timeline: TimelineEvent[];
  ackLatenciesMs: number[];
  firstAudioMs: number[];
}
