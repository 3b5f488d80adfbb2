import { events } from "@hotpin/contracts";
import { type EventType, eventSubject, injectTrace, type Logger, newEventId } from "@hotpin/runtime";
import type { JetStreamClient } from "@nats-io/jetstream";
import { headers, type MsgHdrs } from "@nats-io/transport-node";
import type { EdgeMetrics } from "./metrics";

export type EventPayload = NonNullable<events.Event["payload"]>;

/** Where sessions report what happened; never blocks and never throws. */
export interface EventSink {
  publish(deviceId: string, sessionId: string, payload: EventPayload): void;
}

interface Pending {
  subject: string;
  id: string;
  data: Uint8Array;
  headers: MsgHdrs;
}

/**
 * Publishes events to JetStream through a bounded local queue: a device never waits for NATS,
 * and while NATS is away events wait (oldest dropped beyond the bound, counted) and are retried
 * in order. The event id is the Nats-Msg-Id, so a retry after a lost ack is de-duplicated.
 */
export class EventPublisher implements EventSink {
  private readonly queue: Pending[] = [];
  private js: JetStreamClient | undefined;
  private running = false;
  private wake: (() => void) | undefined;
  private stopped = false;

  constructor(
    private readonly instance: string,
    private readonly capacity: number,
    private readonly log: Logger,
    private readonly metrics: EdgeMetrics,
  ) {}

  /** Starts sending; events published before this wait in the queue. */
  attach(js: JetStreamClient): void {
    this.js = js;
    if (!this.running) void this.loop();
  }

  get buffered(): number {
    return this.queue.length;
  }

  publish(deviceId: string, sessionId: string, payload: EventPayload): void {
    const event: events.Event = {
      id: newEventId(),
      deviceId,
      sessionId,
      time: new Date(),
      edgeInstance: this.instance,
      payload,
    };
    if (this.queue.length >= this.capacity) {
      this.queue.shift();
      this.metrics.eventsDropped.inc();
    }
    this.queue.push({
      subject: eventSubject(deviceId, payload.$case as EventType),
      id: event.id,
      data: events.Event.encode(event).finish(),
      headers: injectTrace(headers()),
    });
    this.metrics.eventsBuffered.set(this.queue.length);
    this.wake?.();
  }

  private async loop(): Promise<void> {
    this.running = true;
    let backoff = 100;
    while (!this.stopped) {
      const next = this.queue[0];
      if (!next || !this.js) {
        await new Promise<void>((r) => {
          this.wake = r;
        });
        this.wake = undefined;
        continue;
      }
      try {
        await this.js.publish(next.subject, next.data, { msgID: next.id, headers: next.headers, timeout: 5_000 });
        if (this.queue[0] === next) this.queue.shift();
        this.metrics.eventsPublished.inc();
        this.metrics.eventsBuffered.set(this.queue.length);
        backoff = 100;
      } catch (err) {
        this.log.warn({ err: (err as Error).message, buffered: this.queue.length }, "event publish failed, retrying");
        await new Promise((r) => setTimeout(r, backoff));
        backoff = Math.min(backoff * 2, 5_000);
      }
    }
    this.running = false;
  }

  /** Waits (bounded) for the queue to empty, then stops the loop. */
  async flush(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.queue.length > 0 && this.js && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    this.stopped = true;
    this.wake?.();
  }
}
