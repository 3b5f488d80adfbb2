// JSON text messages on the xiaozhi WebSocket (docs/protocols/xiaozhi.md §3, §6, §7).
import { type Json, optionalObject, optionalString, parseObject, XiaozhiProtocolError } from "./errors";

/** Longest text message accepted from a device: MCP tool lists come in pages of about 8000 bytes. */
export const MAX_TEXT_MESSAGE_BYTES = 64 * 1024;
/** Rates an Opus stream can be encoded or decoded at. */
export const OPUS_SAMPLE_RATES = [8_000, 12_000, 16_000, 24_000, 48_000] as const;
/** Frame lengths the firmware's decoder opens with (§3.2). */
export const FRAME_DURATIONS_MS = [5, 10, 20, 40, 60, 80, 100, 120] as const;
export const LISTEN_MODES = ["auto", "manual", "realtime"] as const;
export type ListenMode = (typeof LISTEN_MODES)[number];

/** The longest wake word or detect text taken from a device. */
export const MAX_WAKE_WORD_CHARS = 128;

export interface AudioParams {
  format: "opus";
  sampleRate: number;
  channels: 1;
  frameDurationMs: number;
}

export type DeviceMessage =
  | {
      type: "hello";
      /** Binary protocol version the device announces (same as the Protocol-Version header). */
      version: number;
      /** The device's microphone stream; the firmware always sends Opus 16 kHz mono 60 ms. */
      audioParams: AudioParams;
      features: { aec: boolean; mcp: boolean };
    }
  | { type: "listen"; state: "start"; mode: ListenMode }
  | { type: "listen"; state: "stop" }
  /** A wake word the device spotted itself, or text it wants answered. */
  | { type: "listen"; state: "detect"; text: string }
  | { type: "abort"; reason?: string }
  /** JSON-RPC from the device's MCP server: accepted; the edge may ignore it. */
  | { type: "mcp"; payload: Json }
  /** Legacy IoT descriptors from firmware before v1.8: accepted and ignored. */
  | { type: "iot" };

const DEFAULT_DEVICE_AUDIO: AudioParams = { format: "opus", sampleRate: 16_000, channels: 1, frameDurationMs: 60 };

function audioParams(hello: Json): AudioParams {
  const p = optionalObject(hello, "audio_params", "hello");
  if (!p) return DEFAULT_DEVICE_AUDIO;
  if (p.format !== undefined && p.format !== "opus")
    throw new XiaozhiProtocolError("hello.audio_params.format must be opus");
  const sampleRate = p.sample_rate ?? DEFAULT_DEVICE_AUDIO.sampleRate;
  if (!OPUS_SAMPLE_RATES.includes(sampleRate as 16_000)) {
    throw new XiaozhiProtocolError(`hello.audio_params.sample_rate must be one of ${OPUS_SAMPLE_RATES.join(", ")}`);
  }
  if (p.channels !== undefined && p.channels !== 1)
    throw new XiaozhiProtocolError("hello.audio_params.channels must be 1");
  const frame = p.frame_duration ?? DEFAULT_DEVICE_AUDIO.frameDurationMs;
  if (!FRAME_DURATIONS_MS.includes(frame as 60)) {
    throw new XiaozhiProtocolError(`hello.audio_params.frame_duration must be one of ${FRAME_DURATIONS_MS.join(", ")}`);
  }
  return { format: "opus", sampleRate: sampleRate as number, channels: 1, frameDurationMs: frame as number };
}

function flag(features: Json | undefined, key: string): boolean {
  const v = features?.[key];
  if (v === undefined) return false;
  if (typeof v !== "boolean") throw new XiaozhiProtocolError(`hello.features.${key} must be true or false`);
  return v;
}

function parseHello(m: Json): DeviceMessage {
  const version = m.version ?? 1;
  if (version !== 1 && version !== 2 && version !== 3)
    throw new XiaozhiProtocolError("hello.version must be 1, 2 or 3");
  if (m.transport !== undefined && m.transport !== "websocket") {
    throw new XiaozhiProtocolError("hello.transport must be websocket on this connection");
  }
  const features = optionalObject(m, "features", "hello");
  return {
    type: "hello",
    version,
    audioParams: audioParams(m),
    features: { aec: flag(features, "aec"), mcp: flag(features, "mcp") },
  };
}

function parseListen(m: Json): DeviceMessage {
  switch (m.state) {
    case "start": {
      // The reference server's default when a start names no mode.
      const mode = m.mode ?? "auto";
      if (!LISTEN_MODES.includes(mode as ListenMode)) {
        throw new XiaozhiProtocolError(`listen.mode must be one of ${LISTEN_MODES.join(", ")}`);
      }
      return { type: "listen", state: "start", mode: mode as ListenMode };
    }
    case "stop":
      return { type: "listen", state: "stop" };
    case "detect": {
      const text = optionalString(m, "text", MAX_WAKE_WORD_CHARS, "listen")?.trim();
      if (!text) throw new XiaozhiProtocolError("listen detect needs a text");
      return { type: "listen", state: "detect", text };
    }
    default:
      throw new XiaozhiProtocolError("listen.state must be start, stop or detect");
  }
}

/**
 * One text message from a device. Throws XiaozhiProtocolError for anything malformed or of an
 * unknown type; the edge logs those and keeps the connection (the reference server does the same).
 */
export function parseDeviceMessage(text: string): DeviceMessage {
  const m = parseObject(text, "message", MAX_TEXT_MESSAGE_BYTES);
  // The device echoes the server's session id; it is never trusted for anything, only checked for shape.
  optionalString(m, "session_id", 128, "message");
  switch (m.type) {
    case "hello":
      return parseHello(m);
    case "listen":
      return parseListen(m);
    case "abort": {
      const reason = optionalString(m, "reason", 64, "abort");
      return reason === undefined ? { type: "abort" } : { type: "abort", reason };
    }
    case "mcp": {
      const payload = optionalObject(m, "payload", "mcp");
      if (!payload) throw new XiaozhiProtocolError("mcp needs a payload object");
      return { type: "mcp", payload };
    }
    case "iot":
      return { type: "iot" };
    case undefined:
      throw new XiaozhiProtocolError("message without a type");
    default:
      throw new XiaozhiProtocolError(
        typeof m.type === "string" && m.type.length <= 32 ? `unknown message type "${m.type}"` : "unknown message type",
      );
  }
}

// Server → device. `transport` is always sent: the firmware's error path crashes without it (§3.2).

export interface ServerHelloOptions {
  sessionId: string;
  /** The rate and frame length the server really encodes replies at, not the device's. */
  sampleRate: number;
  frameDurationMs: number;
}

export function serverHello(o: ServerHelloOptions): Json {
  if (!OPUS_SAMPLE_RATES.includes(o.sampleRate as 24_000)) throw new RangeError(`no Opus rate ${o.sampleRate}`);
  if (!FRAME_DURATIONS_MS.includes(o.frameDurationMs as 60))
    throw new RangeError(`no frame of ${o.frameDurationMs} ms`);
  return {
    type: "hello",
    version: 1,
    transport: "websocket",
    session_id: o.sessionId,
    audio_params: { format: "opus", sample_rate: o.sampleRate, channels: 1, frame_duration: o.frameDurationMs },
  };
}

/** The device shows these as single lines. */
function displayText(text: string): string {
  return text.replace(/[\r\n\t]+/g, " ").trim();
}

/** The user's transcript, shown on the device. */
export function sttMessage(sessionId: string, text: string): Json {
  return { type: "stt", text: displayText(text), session_id: sessionId };
}

/** The face the device shows; the reference server also sends the emoji as `text`. */
export function llmEmotion(sessionId: string, emotion: string, emoji?: string): Json {
  return { type: "llm", emotion, ...(emoji ? { text: emoji } : {}), session_id: sessionId };
}

/** Switches the device to Speaking: send before any reply audio (§7, timing pitfall). */
export function ttsStart(sessionId: string): Json {
  return { type: "tts", state: "start", session_id: sessionId };
}

export function ttsSentenceStart(sessionId: string, text: string): Json {
  return { type: "tts", state: "sentence_start", text: displayText(text), session_id: sessionId };
}

/** Ends Speaking; audio after it is dropped, so send it after the playback tail (§9.4). */
export function ttsStop(sessionId: string): Json {
  return { type: "tts", state: "stop", session_id: sessionId };
}

/** Shown and chimed by the device; all three fields are required by the firmware. */
export function alertMessage(sessionId: string, status: string, message: string, emotion = "sad"): Json {
  return { type: "alert", status, message: displayText(message), emotion, session_id: sessionId };
}
