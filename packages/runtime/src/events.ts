import type { events } from "@hotpin/contracts";
import { jetstreamManager, type StreamInfo } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { v7 as uuidv7 } from "uuid";

/** Every device and session event is published under this prefix (observers subscribe to all of it). */
export const EVENT_SUBJECTS = "hotpin.events.>";

export type EventType = NonNullable<events.Event["payload"]>["$case"];

/**
 * Which stream keeps an event type: "text" types carry the user's words (partials, transcripts,
 * answers) and live only as long as a conversation; the rest is the long event log. A Record, so a
 * new event type does not compile until it is placed.
 */
const EVENT_RETENTION: Record<EventType, "log" | "text"> = {
  connected: "log",
  disconnected: "log",
  recordingStarted: "log",
  recordingStopped: "log",
  partial: "text",
  transcript: "text",
  llmText: "text",
  ttsStarted: "log",
  ttsDone: "log",
  rerecord: "log",
  error: "log",
  imageReceived: "log",
  stateChanged: "log",
  log: "log",
};

/** The JetStream stream holding the event log (every type without user text). */
export const EVENT_STREAM = "HOTPIN_EVENTS";
/** The short-retention stream holding the event types with user text. */
export const TEXT_EVENT_STREAM = "HOTPIN_EVENTS_TEXT";
/** Both event streams; together they hold every subject under EVENT_SUBJECTS that the edge publishes. */
export const EVENT_STREAMS = [EVENT_STREAM, TEXT_EVENT_STREAM] as const;

/** The subjects one stream captures: one per event type, any device. */
export function eventStreamSubjects(stream: (typeof EVENT_STREAMS)[number]): string[] {
  const kind = stream === TEXT_EVENT_STREAM ? "text" : "log";
  return (Object.keys(EVENT_RETENTION) as EventType[])
    .filter((t) => EVENT_RETENTION[t] === kind)
    .map((t) => `hotpin.events.*.${t}`);
}

/** NATS subject tokens may not hold '.', '*', '>' or spaces; device ids are mapped to a safe token. */
export function subjectToken(id: string): string {
  return id.replace(/[^A-Za-z0-9_-]/g, "_") || "_";
}

/** hotpin.events.<device>.<type> — consumers filter by device, by type, or both. */
export function eventSubject(deviceId: string, type: EventType): string {
  return `hotpin.events.${subjectToken(deviceId)}.${type}`;
}

/** Request/reply subject for commands to one device, answered by the replica holding it. */
export function commandSubject(deviceId: string): string {
  return `hotpin.cmd.${subjectToken(deviceId)}`;
}

/** A new event id: UUIDv7, unique and sortable by time (the JetStream Nats-Msg-Id). */
export function newEventId(): string {
  return uuidv7();
}

export function eventType(event: events.Event): EventType | undefined {
  return event.payload?.$case;
}

export interface EventStreamLimits {
  maxAgeMs: number;
  maxBytes: number;
  replicas: number;
  /** Window in which a republished event id is dropped as a duplicate. */
  duplicateWindowMs: number;
  /** How long the text stream keeps events with user text: the conversation's time to live. */
  textMaxAgeMs: number;
}

export const defaultEventStreamLimits: EventStreamLimits = {
  maxAgeMs: 7 * 24 * 3600_000,
  maxBytes: 1024 ** 3,
  replicas: 1,
  duplicateWindowMs: 10 * 60_000,
  textMaxAgeMs: 10 * 60_000,
};

/**
 * Creates both event streams, or brings existing ones to these limits. Without `limits` (a
 * publisher) an existing stream keeps the limits its owner (storage) gave it and only its subjects
 * are brought up to date. Idempotent. The log stream is narrowed first: a stream that still captures
 * every `hotpin.events.>` subject would overlap the text stream, which JetStream refuses.
 */
export async function ensureEventStream(nc: NatsConnection, limits?: EventStreamLimits): Promise<StreamInfo> {
  const jsm = await jetstreamManager(nc);
  const ns = (ms: number) => ms * 1_000_000;
  const want = limits ?? defaultEventStreamLimits;
  const ensure = async (name: (typeof EVENT_STREAMS)[number], maxAgeMs: number, dedupMs: number) => {
    const config = {
      name,
      subjects: eventStreamSubjects(name),
      max_age: ns(maxAgeMs),
      max_bytes: want.maxBytes,
      num_replicas: want.replicas,
      // The duplicate window may not exceed the stream's max age.
      duplicate_window: ns(Math.min(dedupMs, maxAgeMs)),
    };
    const existing = await jsm.streams.info(name).catch(() => undefined);
    if (!existing) return await jsm.streams.add(config);
    return await jsm.streams.update(name, limits ? config : { ...existing.config, subjects: config.subjects });
  };
  const log = await ensure(EVENT_STREAM, want.maxAgeMs, want.duplicateWindowMs);
  await ensure(TEXT_EVENT_STREAM, want.textMaxAgeMs, want.duplicateWindowMs);
  return log;
}
