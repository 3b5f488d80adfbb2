import type { events } from "@hotpin/contracts";
import { jetstreamManager, type StreamInfo } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { v7 as uuidv7 } from "uuid";
import { subjectToken } from "./device-id";

/** The JetStream stream holding every device and session event. */
export const EVENT_STREAM = "HOTPIN_EVENTS";
export const EVENT_SUBJECTS = "hotpin.events.>";

export type EventType = NonNullable<events.Event["payload"]>["$case"];

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
}

export const defaultEventStreamLimits: EventStreamLimits = {
  maxAgeMs: 7 * 24 * 3600_000,
  maxBytes: 1024 ** 3,
  replicas: 1,
  duplicateWindowMs: 10 * 60_000,
};

/**
 * Creates the event stream, or brings an existing one to these limits. Idempotent. With
 * `keepExisting` an existing stream is left as it is: a publisher that does not own the limits
 * (the edge) must not reset what the owner (storage) set, such as 3 replicas on a cluster.
 */
export async function ensureEventStream(
  nc: NatsConnection,
  limits: EventStreamLimits = defaultEventStreamLimits,
  opts: { keepExisting?: boolean } = {},
): Promise<StreamInfo> {
  const jsm = await jetstreamManager(nc);
  if (opts.keepExisting) {
    try {
      return await jsm.streams.info(EVENT_STREAM);
    } catch {
      // missing: created below
    }
  }
  const ns = (ms: number) => ms * 1_000_000;
  const config = {
    name: EVENT_STREAM,
    subjects: [EVENT_SUBJECTS],
    max_age: ns(limits.maxAgeMs),
    max_bytes: limits.maxBytes,
    num_replicas: limits.replicas,
    duplicate_window: ns(limits.duplicateWindowMs),
  };
  try {
    return await jsm.streams.update(EVENT_STREAM, config);
  } catch {
    return await jsm.streams.add(config);
  }
}
