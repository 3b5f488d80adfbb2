import { events } from "@hotpin/contracts";
import { type EventType, eventSubject, injectTrace, type Logger, newEventId } from "@hotpin/runtime";
import { JetStreamApiError, type JetStreamClient } from "@nats-io/jetstream";
import { errors, headers, type MsgHdrs } from "@nats-io/transport-node";
import type { EdgeMetrics } from "./metrics";

export type EventPayload = NonNullable<events.Event["payload"]>;

/** Where sessions report what happened; never blocks and never throws. */
export interface EventSink {
  publish(deviceId: string, sessionId: string, payload: EventPayload): void;
  /**
   * Resolves true once every event published before the call is stored by JetStream (acked),
   * false when `timeoutMs` passes first (the events stay queued and are still retried). Never
   * rejects. A device-visible milestone awaits this so that what the device saw is never
   * missing from the stream, even if this process dies right after.
   */
  confirm(timeoutMs: number): Promise<boolean>;
}

/** Publishes in flight at once: one JetStream round trip carries a burst of events. */
const WINDOW = 64;

/** Failures of one event while later ones of its batch were stored: NATS works, the event does not. */
const MAX_LONE_FAILURES = 5;

/**
 * Errors that retrying cannot fix: the client refused the message (bad subject, larger than the
 * server's max_payload) or JetStream answered with an API error for it.
 */
function permanent(err: unknown): boolean {
  return (
    err instanceof errors.InvalidSubjectError ||
    err instanceof errors.InvalidArgumentError ||
    err instanceof JetStreamApiError
  );
}

interface Pending {
  /** Position in publication order; everything at or below `settledThrough` has left the queue. */
  seq: number;
  subject: string;
  id: string;
  data: Uint8Array;
  headers: MsgHdrs;
  /** Failed attempts while later events of the same batch were stored. */
  loneFailures: number;
}

/**
 * Publishes events to JetStream through a bounded local queue: a device never waits for NATS,
 * and while NATS is away events wait (oldest dropped beyond the bound, counted) and are retried
 * in order. The event id is the Nats-Msg-Id, so a retry after a lost ack is de-duplicated.
 * Up to WINDOW publishes are in flight together (in order on one connection); after a failure
 * the batch is retried from the first unacked event, so order holds except when a later event
 * of a batch was stored and an earlier one failed (then the earlier one lands after it).
 */
export class EventPublisher implements EventSink {
  private readonly queue: Pending[] = [];
  private js: JetStreamClient | undefined;
  private running = false;
  private wake: (() => void) | undefined;
  private stopped = false;
  /** seq of the last event published (queued). */
  private seq = 0;
  private waiters: { target: number; done: (ok: boolean) => void }[] = [];

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
      this.settle();
    }
    this.queue.push({
      seq: ++this.seq,
      subject: eventSubject(deviceId, payload.$case as EventType),
      id: event.id,
      data: events.Event.encode(event).finish(),
      headers: injectTrace(headers()),
      loneFailures: 0,
    });
    this.metrics.eventsBuffered.set(this.queue.length);
    this.wake?.();
  }

  /** Every event up to this seq is acked (or was dropped from a full buffer). */
  private get settledThrough(): number {
    return this.queue[0] ? this.queue[0].seq - 1 : this.seq;
  }

  private settle(): void {
    const through = this.settledThrough;
    if (!this.waiters.some((w) => w.target <= through)) return;
    const ready = this.waiters.filter((w) => w.target <= through);
    this.waiters = this.waiters.filter((w) => w.target > through);
    for (const w of ready) w.done(true);
  }

  confirm(timeoutMs: number): Promise<boolean> {
    const target = this.seq;
    if (this.settledThrough >= target) return Promise.resolve(true);
    if (this.stopped || timeoutMs <= 0) return Promise.resolve(false);
    return new Promise((resolve) => {
      const waiter = {
        target,
        done: (ok: boolean) => {
          clearTimeout(timer);
          resolve(ok);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve(false);
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  private async loop(): Promise<void> {
    this.running = true;
    let backoff = 100;
    while (!this.stopped) {
      const js = this.js;
      if (this.queue.length === 0 || !js) {
        await new Promise<void>((r) => {
          this.wake = r;
        });
        this.wake = undefined;
        continue;
      }
      const batch = this.queue.slice(0, WINDOW);
      const results = await Promise.allSettled(
        batch.map((p) => js.publish(p.subject, p.data, { msgID: p.id, headers: p.headers, timeout: 5_000 })),
      );
      const failed = results.findIndex((r) => r.status === "rejected");
      const acked = failed < 0 ? batch.length : failed;
      const last = batch[acked - 1];
      // Drops of a full buffer may have shifted the queue meanwhile: remove by seq, not by count.
      if (last) while (this.queue[0] && this.queue[0].seq <= last.seq) this.queue.shift();
      this.metrics.eventsPublished.inc(acked);
      this.metrics.eventsBuffered.set(this.queue.length);
      this.settle();
      if (failed < 0) {
        backoff = 100;
        continue;
      }
      const err = (results[failed] as PromiseRejectedResult).reason as Error;
      const head = batch[failed] as Pending;
      if (results.slice(failed + 1).some((r) => r.status === "fulfilled")) head.loneFailures++;
      if (permanent(err) || head.loneFailures >= MAX_LONE_FAILURES) {
        // Retrying it forever would hold every later event (and every milestone) behind it.
        this.drop(head, err);
        continue;
      }
      this.log.warn({ err: err.message, buffered: this.queue.length }, "event publish failed, retrying");
      await new Promise((r) => setTimeout(r, backoff));
      backoff = Math.min(backoff * 2, 5_000);
    }
    this.running = false;
  }

  /** Removes an event NATS will never take; counted, logged without its content. */
  private drop(p: Pending, err: Error): void {
    const at = this.queue.indexOf(p);
    if (at >= 0) this.queue.splice(at, 1);
    this.metrics.eventsRejected.inc();
    this.metrics.eventsBuffered.set(this.queue.length);
    this.log.error(
      { err: err.message, subjectBytes: p.subject.length, bytes: p.data.length },
      "event refused for good, dropped",
    );
    this.settle();
  }

  /** Waits (bounded) until every event published so far is stored, then stops the loop. */
  async flush(timeoutMs: number): Promise<boolean> {
    const ok = this.js ? await this.confirm(timeoutMs) : this.queue.length === 0;
    this.stopped = true;
    this.wake?.();
    for (const w of this.waiters.splice(0)) w.done(false);
    return ok;
  }
}
