// The Sesame-style full-duplex protocol: JSON text messages `{type, session_id, call_id?,
// request_id?, content}` over one WebSocket, audio as base64 int16 LE mono inside them
// (docs/protocols/sesame.md).

/** The path the client has built in: serving it means only the host changes on the device. */
export const SESAME_PATH = "/agent-service-0/v1/connect";
/** The rate the client records at, and the rate we tell it to play at. */
export const SESAME_SAMPLE_RATE = 24_000;
/** The client's upstream frame: 637 samples, ~26.5 ms. */
export const SESAME_FRAME_SAMPLES = 637;
/** Rates a client may ask for in call_connect; the client in the field always asks for 24 kHz. */
export const SESAME_SAMPLE_RATES = [16_000, 24_000] as const;
/** The most audio one message may carry: 1 s at 24 kHz (the client sends 26.5 ms). */
export const MAX_AUDIO_BYTES_PER_MESSAGE = SESAME_SAMPLE_RATE * 2;
/** Audio messages are the largest; base64 of a full second plus the envelope. */
export const MAX_TEXT_MESSAGE_BYTES = Math.ceil(MAX_AUDIO_BYTES_PER_MESSAGE / 3) * 4 + 1024;

export class SesameProtocolError extends Error {
  override name = "SesameProtocolError";
}

type Json = Record<string, unknown>;

export type ClientMessage =
  | {
      type: "client_location_state";
      location: { latitude?: number; longitude?: number; address?: string; timezone?: string };
    }
  | {
      type: "call_connect";
      requestId: string;
      sampleRate: number;
      clientName?: string;
      preset?: string;
      reconnect: boolean;
    }
  | { type: "ping"; requestId: string }
  /** PCM16 LE mono at the call's rate. */
  | { type: "audio"; pcm: Buffer }
  | { type: "call_disconnect"; requestId: string; reason?: string }
  /** A well-formed message of a type we do not serve: logged and ignored, as the client does. */
  | { type: "unknown"; name: string };

function str(obj: Json, key: string, max: number, where: string): string | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw new SesameProtocolError(`${where}.${key} must be a string`);
  if (v.length > max) throw new SesameProtocolError(`${where}.${key} is longer than ${max} characters`);
  return v;
}

function obj(m: Json, key: string, where: string): Json {
  const v = m[key];
  if (typeof v !== "object" || v === null || Array.isArray(v))
    throw new SesameProtocolError(`${where}.${key} must be an object`);
  return v as Json;
}

function num(o: Json, key: string, where: string): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isFinite(v)) throw new SesameProtocolError(`${where}.${key} must be a number`);
  return v;
}

const REQUEST_ID = /^[\x21-\x7e]{1,64}$/;

function requestId(m: Json, where: string): string {
  const id = m.request_id;
  if (typeof id !== "string" || !REQUEST_ID.test(id)) {
    throw new SesameProtocolError(`${where} needs a request_id of 1-64 printable characters`);
  }
  return id;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function audio(m: Json): Buffer {
  const data = obj(m, "content", "audio").audio_data;
  if (typeof data !== "string") throw new SesameProtocolError("audio.content.audio_data must be a base64 string");
  if (data.length % 4 !== 0 || !BASE64.test(data))
    throw new SesameProtocolError("audio.content.audio_data is not base64");
  const pcm = Buffer.from(data, "base64");
  if (pcm.length === 0 || pcm.length % 2 !== 0)
    throw new SesameProtocolError("audio is not a whole number of 16-bit samples");
  if (pcm.length > MAX_AUDIO_BYTES_PER_MESSAGE) {
    throw new SesameProtocolError(`audio message of ${pcm.length} bytes is over ${MAX_AUDIO_BYTES_PER_MESSAGE}`);
  }
  return pcm;
}

/** One text message from the client; throws SesameProtocolError with the reason when malformed. */
export function parseClientMessage(text: string): ClientMessage {
  if (Buffer.byteLength(text) > MAX_TEXT_MESSAGE_BYTES) {
    throw new SesameProtocolError(`message is longer than ${MAX_TEXT_MESSAGE_BYTES} bytes`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new SesameProtocolError("message is not JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new SesameProtocolError("message is not a JSON object");
  const m = value as Json;
  // The client echoes our ids; they are never trusted, only checked for shape.
  str(m, "session_id", 128, "message");
  if (m.call_id !== undefined && m.call_id !== null && typeof m.call_id !== "string" && typeof m.call_id !== "number") {
    throw new SesameProtocolError("message.call_id must be a string or a number");
  }
  switch (m.type) {
    case "client_location_state": {
      const c = obj(m, "content", "client_location_state");
      const location = {
        latitude: num(c, "latitude", "client_location_state"),
        longitude: num(c, "longitude", "client_location_state"),
        address: str(c, "address", 256, "client_location_state"),
        timezone: str(c, "timezone", 64, "client_location_state"),
      };
      return {
        type: "client_location_state",
        location: Object.fromEntries(Object.entries(location).filter(([, v]) => v !== undefined)),
      };
    }
    case "call_connect": {
      const id = requestId(m, "call_connect");
      const c = obj(m, "content", "call_connect");
      const sampleRate = num(c, "sample_rate", "call_connect") ?? SESAME_SAMPLE_RATE;
      if (!SESAME_SAMPLE_RATES.includes(sampleRate as 24_000)) {
        throw new SesameProtocolError(`call_connect.sample_rate must be one of ${SESAME_SAMPLE_RATES.join(", ")}`);
      }
      const codec = str(c, "audio_codec", 16, "call_connect") ?? "none";
      if (codec !== "none") throw new SesameProtocolError('call_connect.audio_codec must be "none" (raw PCM)');
      const settings = c.settings === undefined ? {} : obj(c, "settings", "call_connect");
      const clientName = str(c, "client_name", 64, "call_connect");
      const preset = str(settings, "preset", 64, "call_connect.settings");
      return {
        type: "call_connect",
        requestId: id,
        sampleRate,
        reconnect: c.reconnect === true,
        ...(clientName ? { clientName } : {}),
        ...(preset ? { preset } : {}),
      };
    }
    case "ping":
      return { type: "ping", requestId: requestId(m, "ping") };
    case "audio":
      return { type: "audio", pcm: audio(m) };
    case "call_disconnect": {
      const id = requestId(m, "call_disconnect");
      const reason =
        m.content === undefined
          ? undefined
          : str(obj(m, "content", "call_disconnect"), "reason", 64, "call_disconnect");
      return reason === undefined
        ? { type: "call_disconnect", requestId: id }
        : { type: "call_disconnect", requestId: id, reason };
    }
    default:
      if (typeof m.type !== "string" || !/^[a-z_]{1,64}$/.test(m.type))
        throw new SesameProtocolError("message without a valid type");
      return { type: "unknown", name: m.type };
  }
}

// Server → client. The client reads `content.session_id` of initialize, the top-level `call_id`
// and `content.sample_rate` of call_connect_response, and `content.audio_data` of audio.

export function initializeMessage(sessionId: string): Json {
  return { type: "initialize", session_id: sessionId, content: { session_id: sessionId } };
}

export function callConnectResponse(
  sessionId: string,
  callId: string,
  requestId: string,
  sampleRate = SESAME_SAMPLE_RATE,
): Json {
  return {
    type: "call_connect_response",
    session_id: sessionId,
    call_id: callId,
    request_id: requestId,
    content: { sample_rate: sampleRate },
  };
}

export function pingResponse(sessionId: string, callId: string | undefined, requestId: string): Json {
  return {
    type: "ping_response",
    session_id: sessionId,
    ...(callId ? { call_id: callId } : {}),
    request_id: requestId,
    content: "pong",
  };
}

/** One downstream audio message: PCM16 LE mono at the rate call_connect_response gave. */
export function audioMessage(sessionId: string, callId: string, pcm: Buffer): Json {
  if (pcm.length % 2 !== 0) throw new RangeError("PCM16 audio must be a whole number of samples");
  return { type: "audio", session_id: sessionId, call_id: callId, content: { audio_data: pcm.toString("base64") } };
}

/** The server's own text (transcript or reply) in the type the client logs and ignores. */
export function chatMessage(
  sessionId: string,
  callId: string | undefined,
  role: "user" | "assistant",
  text: string,
): Json {
  return {
    type: "chat",
    session_id: sessionId,
    ...(callId ? { call_id: callId } : {}),
    content: { messages: [{ role, text }] },
  };
}

export function callDisconnectResponse(sessionId: string, callId: string | undefined, requestId: string): Json {
  return {
    type: "call_disconnect_response",
    session_id: sessionId,
    ...(callId ? { call_id: callId } : {}),
    request_id: requestId,
    content: {},
  };
}

/**
 * A refusal of something the client sent. The client has no error type: it logs the message as
 * an unknown type with its content and goes on, which is what a refusal should do.
 */
export function errorMessage(sessionId: string | undefined, code: string, message: string): Json {
  return { type: "error", ...(sessionId ? { session_id: sessionId } : {}), content: { code, message } };
}

export interface ConnectQuery {
  /** The device JWT; the edge verifies it and answers 401/403 before the upgrade. */
  idToken: string;
  clientName?: string;
  character?: string;
  timezone?: string;
}

const MAX_TOKEN_CHARS = 4096;

/** The upgrade's query string: `id_token`, `client_name`, `usercontext` (JSON), `character`. */
export function parseConnectQuery(params: URLSearchParams): ConnectQuery {
  const idToken = params.get("id_token");
  if (!idToken) throw new SesameProtocolError("id_token is missing");
  if (idToken.length > MAX_TOKEN_CHARS)
    throw new SesameProtocolError(`id_token is longer than ${MAX_TOKEN_CHARS} characters`);
  const short = (name: string) => {
    const v = params.get(name) ?? undefined;
    if (v !== undefined && (v.length > 64 || !/^[\x20-\x7e]*$/.test(v))) {
      throw new SesameProtocolError(`${name} must be at most 64 printable ASCII characters`);
    }
    return v || undefined;
  };
  const clientName = short("client_name");
  const character = short("character");
  let timezone: string | undefined;
  const context = params.get("usercontext");
  if (context) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(context);
    } catch {
      throw new SesameProtocolError("usercontext is not JSON");
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      throw new SesameProtocolError("usercontext is not a JSON object");
    }
    timezone = str(parsed as Json, "timezone", 64, "usercontext");
  }
  return {
    idToken,
    ...(clientName ? { clientName } : {}),
    ...(character ? { character } : {}),
    ...(timezone ? { timezone } : {}),
  };
}
