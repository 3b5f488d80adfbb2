import { events, storage } from "@hotpin/contracts";
import type { EventType } from "@hotpin/runtime";
import { isId, storableText } from "../errors";
import type { NewLog } from "../logs";

const { LogLevel, SessionStatus } = storage;

/**
 * Event types that carry the user's words, which the stream keeps only for the conversation's TTL.
 * A Record over every type, so a new event type does not compile until it is placed.
 */
const CARRIES_USER_TEXT: Record<EventType, boolean> = {
  connected: false,
  disconnected: false,
  recordingStarted: false,
  recordingStopped: false,
  partial: true,
  transcript: true,
  llmText: true,
  ttsStarted: false,
  ttsDone: false,
  rerecord: false,
  error: false,
  imageReceived: false,
  stateChanged: false,
  log: false,
  wakeWord: false,
};
export const USER_TEXT_EVENT_TYPES = (Object.keys(CARRIES_USER_TEXT) as EventType[]).filter(
  (t) => CARRIES_USER_TEXT[t],
);

export type SessionChange =
  | { kind: "start"; id: string; deviceId: string; dialect: string; edgeInstance: string; startedAt: number }
  | { kind: "end"; id: string; deviceId: string; status: number; notes: string; endedAt: number; edgeInstance: string };

export interface EventRows {
  log: NewLog;
  session?: SessionChange;
  deviceId: string;
  time: number;
}

const LOG_LEVELS: Record<string, number> = {
  debug: LogLevel.LOG_LEVEL_DEBUG,
  info: LogLevel.LOG_LEVEL_INFO,
  warn: LogLevel.LOG_LEVEL_WARNING,
  warning: LogLevel.LOG_LEVEL_WARNING,
  error: LogLevel.LOG_LEVEL_ERROR,
};

/**
 * The log line for an event: its type and its numbers, never the user's words (transcripts, answers
 * and partials are conversation content, kept by the conversation turns, not by the log).
 */
function describe(ev: events.Event): { level: number; message: string } {
  const p = ev.payload;
  const info = (message: string) => ({ level: LogLevel.LOG_LEVEL_INFO, message });
  const debug = (message: string) => ({ level: LogLevel.LOG_LEVEL_DEBUG, message });
  switch (p?.$case) {
    case "connected":
      return info(`connected dialect=${p.value.dialect}`);
    case "disconnected":
      return {
        level: p.value.clean ? LogLevel.LOG_LEVEL_INFO : LogLevel.LOG_LEVEL_WARNING,
        message: `disconnected code=${p.value.closeCode} clean=${p.value.clean} reason=${p.value.reason}`,
      };
    case "recordingStarted":
      return info(`recording started utterance=${p.value.utterance}`);
    case "recordingStopped":
      return info(
        `recording stopped utterance=${p.value.utterance} chunks=${p.value.chunks} bytes=${p.value.bytes} duration_ms=${p.value.durationMs}`,
      );
    case "partial":
      return debug(`partial transcript utterance=${p.value.utterance} chars=${p.value.text.length}`);
    case "transcript":
      return info(
        `transcript utterance=${p.value.utterance} chars=${p.value.text.length} confidence=${p.value.confidence.toFixed(2)} duration_ms=${p.value.durationMs}`,
      );
    case "llmText":
      return info(
        `llm answer utterance=${p.value.utterance} chars=${p.value.text.length} model=${p.value.model} had_image=${p.value.hadImage}`,
      );
    case "ttsStarted":
      return info(`tts started utterance=${p.value.utterance}`);
    case "ttsDone":
      return info(
        `tts done utterance=${p.value.utterance} duration_ms=${p.value.durationMs} bytes=${p.value.bytes} truncated=${p.value.truncated} interrupted=${p.value.interrupted}`,
      );
    case "rerecord":
      return {
        level: p.value.intervention ? LogLevel.LOG_LEVEL_WARNING : LogLevel.LOG_LEVEL_INFO,
        message: `rerecord utterance=${p.value.utterance} attempt=${p.value.attempt} intervention=${p.value.intervention} reason=${p.value.reason}`,
      };
    case "error":
      return { level: LogLevel.LOG_LEVEL_ERROR, message: `error ${p.value.code}: ${p.value.message}` };
    case "imageReceived":
      return info(`image received blob=${p.value.blobId} ${p.value.width}x${p.value.height} bytes=${p.value.bytes}`);
    case "stateChanged":
      return debug(`state ${p.value.from} -> ${p.value.to}`);
    case "wakeWord":
      return info(`wake word source=${p.value.source} confidence=${p.value.confidence.toFixed(2)}`);
    case "log":
      // The edge's own log line, as it was sent.
      return { level: LOG_LEVELS[p.value.level.toLowerCase()] ?? LogLevel.LOG_LEVEL_INFO, message: p.value.message };
    default:
      return { level: LogLevel.LOG_LEVEL_WARNING, message: "event of an unknown type" };
  }
}

/**
 * What one event writes: always a log row keyed by the event id, and for (dis)connects a session
 * change. Every string that came from a device (close reasons, log lines, ids) goes through
 * `storableText`, so no event can carry text the database refuses.
 */
export function eventRows(ev: events.Event, eventId: string, maxText: number, receivedAt: number): EventRows {
  const time = ev.time?.getTime() ?? receivedAt;
  const { level, message } = describe(ev);
  const deviceId = storableText(ev.deviceId, 128);
  const sessionId = storableText(ev.sessionId, 128);
  const rows: EventRows = {
    deviceId,
    time,
    log: {
      time,
      session_id: sessionId,
      device_id: deviceId,
      level,
      message: storableText(message, maxText),
      dedup_key: `evt:${eventId}`,
      event_type: ev.payload?.$case ?? "unknown",
    },
  };
  const p = ev.payload;
  if (sessionId && deviceId && p?.$case === "connected") {
    rows.session = {
      kind: "start",
      id: sessionId,
      deviceId,
      dialect: storableText(p.value.dialect, 64),
      edgeInstance: storableText(ev.edgeInstance, 256),
      startedAt: time,
    };
  } else if (sessionId && deviceId && p?.$case === "disconnected") {
    rows.session = {
      kind: "end",
      id: sessionId,
      deviceId,
      status: p.value.clean ? SessionStatus.SESSION_STATUS_COMPLETED : SessionStatus.SESSION_STATUS_ERROR,
      notes: storableText(`close code ${p.value.closeCode}${p.value.reason ? `: ${p.value.reason}` : ""}`, maxText),
      endedAt: time,
      edgeInstance: storableText(ev.edgeInstance, 256),
    };
  }
  return rows;
}

/** A message that is not an Event still leaves a trace: an error row keyed by its id. */
export function undecodableRows(eventId: string, subject: string, bytes: number, receivedAt: number): EventRows {
  return {
    deviceId: "",
    time: receivedAt,
    log: {
      time: receivedAt,
      session_id: "",
      device_id: "",
      level: LogLevel.LOG_LEVEL_ERROR,
      message: storableText(`undecodable event on ${subject} (${bytes} bytes)`, 1024),
      dedup_key: `evt:${eventId}`,
      event_type: "undecodable",
    },
  };
}

export function decodeEvent(data: Uint8Array): events.Event | undefined {
  try {
    return events.Event.decode(data);
  } catch {
    return undefined;
  }
}

export interface DeadLetter {
  stream: string;
  seq: number;
  subject: string;
  deliveries: number;
  error: Error;
}

/**
 * The row that replaces an event the database refused `deliveries` times: keyed by the event's id
 * (so a later redelivery is a duplicate), at error level, built from values that are always storable
 * (the event's type and ids, where it sits in the stream, the database's error code), never its content.
 */
export function deadLetterRows(refused: EventRows, d: DeadLetter): EventRows {
  const code = (d.error as { code?: unknown }).code;
  const why = storableText(`${typeof code === "string" ? `${code}: ` : ""}${d.error.message}`, 512);
  const type = storableText(refused.log.event_type ?? "unknown", 64);
  return {
    deviceId: "",
    time: refused.time,
    log: {
      time: refused.time,
      session_id: isId(refused.log.session_id) ? refused.log.session_id : "",
      device_id: isId(refused.log.device_id) ? refused.log.device_id : "",
      level: LogLevel.LOG_LEVEL_ERROR,
      message: storableText(
        `event dead-lettered after ${d.deliveries} deliveries: type=${type} stream=${d.stream} seq=${d.seq} subject=${d.subject} error=${why}`,
        1024,
      ),
      dedup_key: refused.log.dedup_key,
      event_type: "dead_letter",
    },
  };
}
