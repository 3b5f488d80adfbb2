import { type BackoffOptions, DEFAULT_BACKOFF } from "./backoff";
import { SimError } from "./errors";
import type { StreamTuning } from "./stream-audio";
import type { DeviceOptions, Dialect } from "./types";

/** The firmware's defaults: what a device in the field does. */
export const FIRMWARE_DEFAULTS = {
  deviceId: "esp32-cam-hotpin",
  token: "your_api_token_here",
  chunkBytes: 4096,
  handshakeDelayMs: 2000,
  chunkPauseMs: 20,
  maxUnacked: 2,
  ackTimeoutMs: 1000,
} as const;

/** Seed 000: 0.5 s chunks. */
export const SPEC_CHUNK_BYTES = 16_000;

/** Firmware decoder: 5 s for the WAV header after the tts stage, 10 s between frames after it. */
export const FIRMWARE_HEADER_TIMEOUT_MS = 5000;
export const FIRMWARE_AUDIO_TIMEOUT_MS = 10_000;

export interface Settings {
  dialect: Dialect;
  deviceId: string;
  token: string | undefined;
  wsBase: URL;
  httpBase: URL;
  chunkBytes: number;
  stream: StreamTuning;
  handshakeDelayMs: number;
  connectTimeoutMs: number;
  replyTimeoutMs: number;
  utterances: number;
  readyForPlayback: boolean;
  fetchDownload: boolean;
  waitForReady: boolean;
  capabilities: Record<string, unknown>;
  pingIntervalMs: number;
  retries: number;
  backoff: BackoffOptions;
}

function nonNegative(name: string, v: number): number {
  if (!Number.isFinite(v) || v < 0) throw new SimError("input", `${name} must be a non-negative number, got ${v}`);
  return v;
}

export function resolveSettings(o: DeviceOptions): Settings {
  let base: URL;
  try {
    base = new URL(o.url);
  } catch {
    throw new SimError("input", `not a URL: ${o.url}`);
  }
  const secure = base.protocol === "wss:" || base.protocol === "https:";
  if (!["ws:", "wss:", "http:", "https:"].includes(base.protocol)) {
    throw new SimError("input", `URL must be ws://, wss://, http:// or https://, got ${o.url}`);
  }
  const wsBase = new URL(base.href);
  wsBase.protocol = secure ? "wss:" : "ws:";
  const httpBase = new URL(base.href);
  httpBase.protocol = secure ? "https:" : "http:";
  const utterances = o.utterances ?? 1;
  if (!Number.isInteger(utterances) || utterances < 1) throw new SimError("input", "utterances must be at least 1");
  const maxUnacked = o.maxUnacked ?? FIRMWARE_DEFAULTS.maxUnacked;
  if (!Number.isInteger(maxUnacked) || maxUnacked < 1) throw new SimError("input", "maxUnacked must be at least 1");
  return {
    dialect: o.dialect,
    deviceId: o.deviceId,
    token: o.token,
    wsBase,
    httpBase,
    chunkBytes: o.chunkBytes ?? (o.dialect === "firmware" ? FIRMWARE_DEFAULTS.chunkBytes : SPEC_CHUNK_BYTES),
    stream: {
      pacing: o.pacing ?? "realtime",
      chunkPauseMs: nonNegative("chunkPauseMs", o.chunkPauseMs ?? FIRMWARE_DEFAULTS.chunkPauseMs),
      maxUnacked,
      ackTimeoutMs: nonNegative("ackTimeoutMs", o.ackTimeoutMs ?? FIRMWARE_DEFAULTS.ackTimeoutMs),
    },
    handshakeDelayMs: nonNegative("handshakeDelayMs", o.handshakeDelayMs ?? FIRMWARE_DEFAULTS.handshakeDelayMs),
    connectTimeoutMs: nonNegative("connectTimeoutMs", o.connectTimeoutMs ?? 10_000),
    replyTimeoutMs: nonNegative("replyTimeoutMs", o.replyTimeoutMs ?? 30_000),
    utterances,
    readyForPlayback: o.readyForPlayback ?? true,
    fetchDownload: o.fetchDownload ?? true,
    waitForReady: o.waitForReady ?? false,
    capabilities: o.capabilities ?? {},
    pingIntervalMs: nonNegative("pingIntervalMs", o.pingIntervalMs ?? 0),
    retries: nonNegative("retries", o.retries ?? 0),
    backoff: { ...DEFAULT_BACKOFF, ...o.backoff },
  };
}

/** `path` on the server, keeping any path prefix of the base URL (e.g. behind a proxy). */
export function serverUrl(base: URL, path: string): URL {
  const u = new URL(base.href);
  u.pathname = `${u.pathname.replace(/\/+$/, "")}${path}`;
  u.search = "";
  return u;
}
