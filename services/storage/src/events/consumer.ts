import {
  Attr,
  EVENT_STREAM,
  EVENT_SUBJECTS,
  type EventStreamLimits,
  ensureEventStream,
  extractTrace,
  type Logger,
  recordFailure,
  tracer,
} from "@hotpin/runtime";
import {
  AckPolicy,
  type ConsumerMessages,
  DeliverPolicy,
  type JsMsg,
  jetstream,
  jetstreamManager,
} from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { type Span, SpanKind } from "@opentelemetry/api";
import type { Kysely } from "kysely";
import type { Database } from "../db/schema";
import type { StorageMetrics } from "../metrics";
import { decodeEvent, type EventRows, eventRows, undecodableRows } from "./to-rows";
import { writeEvents } from "./write-events";

/** How long a partial batch waits for more events before it is written. */
const FLUSH_AFTER_MS = 10;
const QUIET = Symbol("quiet");

export interface ConsumerOptions {
  /** Durable consumer name; replicas share it and split the stream between them. */
  name: string;
  batch: number;
  ackWaitMs: number;
  maxTextBytes: number;
  maxEventBytes: number;
  stream: EventStreamLimits;
}

/**
 * Reads the event stream with a durable pull consumer and writes every event as a log row (and
 * sessions from connects and disconnects), one transaction per batch; acks only after commit,
 * so a crash at any point leads to redelivery, and the event-id key makes redelivery harmless.
 */
export class EventConsumer {
  private messages: ConsumerMessages | undefined;
  private loop: Promise<void> | undefined;
  private stopping = false;
  private lastError: string | undefined;
  private wake: (() => void) | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly db: Kysely<Database>,
    private readonly opts: ConsumerOptions,
    private readonly metrics: StorageMetrics,
    private readonly log: Logger,
  ) {}

  /** Creates the stream and the durable consumer (or brings them to the configured limits), then runs. */
  async start(): Promise<void> {
    await this.ensure();
    this.loop = this.run();
  }

  private async ensure(): Promise<void> {
    await ensureEventStream(this.nc, this.opts.stream);
    const jsm = await jetstreamManager(this.nc);
    const config = {
      durable_name: this.opts.name,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      filter_subject: EVENT_SUBJECTS,
      ack_wait: this.opts.ackWaitMs * 1_000_000,
      max_ack_pending: this.opts.batch * 4,
    };
    try {
      await jsm.consumers.update(EVENT_STREAM, this.opts.name, config);
    } catch {
      await jsm.consumers.add(EVENT_STREAM, config);
    }
  }

  /** For health: running and the last batch (if any) committed. */
  check(): true | string {
    if (!this.loop) return "not started";
    if (this.stopping) return "stopping";
    return this.lastError ? `last batch failed: ${this.lastError}` : true;
  }

  /** Finishes the batch in hand, then stops; events not yet written stay unacked and are redelivered. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    this.messages?.stop();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      try {
        await this.consume();
      } catch (err) {
        if (this.stopping) break;
        this.lastError = (err as Error).message;
        this.log.warn({ err }, "event consumer failed, restarting");
        await this.pause(1_000);
        await this.ensure().catch(() => {});
      }
    }
  }

  private async consume(): Promise<void> {
    const consumer = await jetstream(this.nc).consumers.get(EVENT_STREAM, this.opts.name);
    // Events the server sends to the open pull of a replica that just stopped come back after the ack wait.
    const messages = await consumer.consume({ max_messages: this.opts.batch });
    this.messages = messages;
    if (this.stopping) messages.stop();
    const it = messages[Symbol.asyncIterator]();
    let next = it.next();
    let pending: JsMsg[] = [];
    for (;;) {
      // With events in hand, wait only briefly for more: large batches under load, low latency when idle.
      // (The iterator's getPending() can overcount, so it alone cannot say that nothing more is coming.)
      const r = pending.length === 0 ? await next : await Promise.race([next, this.quiet(FLUSH_AFTER_MS)]);
      // Stopping: events in hand are not acked and come back to another replica.
      if (this.stopping) break;
      if (r !== QUIET) {
        if (r.done) break;
        pending.push(r.value);
        next = it.next();
        if (pending.length < this.opts.batch && messages.getPending() > 0) continue;
      }
      const batch = pending;
      pending = [];
      if (!(await this.process(batch))) await this.pause(500);
    }
  }

  private quiet(ms: number): Promise<typeof QUIET> {
    return new Promise((resolve) => setTimeout(() => resolve(QUIET), ms));
  }

  /** Writes one batch; true when committed and acked. */
  private async process(batch: JsMsg[]): Promise<boolean> {
    const receivedAt = Date.now();
    const spans: Span[] = [];
    const rows: EventRows[] = [];
    for (const m of batch) {
      const span = tracer().startSpan(
        "hotpin.events process",
        {
          kind: SpanKind.CONSUMER,
          attributes: {
            [Attr.messagingSystem]: "nats",
            [Attr.messagingDestination]: EVENT_STREAM,
            [Attr.messagingOperation]: "process",
            "messaging.batch.message_count": batch.length,
          },
        },
        extractTrace(m.headers),
      );
      spans.push(span);
      // The Nats-Msg-Id is the event id; the stream sequence is the fallback for a message without one.
      const msgId = m.headers?.get("Nats-Msg-Id") || "";
      const ev = m.data.length <= this.opts.maxEventBytes ? decodeEvent(m.data) : undefined;
      if (!ev) {
        this.metrics.eventsUndecodable.inc();
        rows.push(undecodableRows(msgId || `seq:${m.seq}`, m.subject, m.data.length, receivedAt));
        span.setAttribute(Attr.eventType, "undecodable");
        continue;
      }
      const id = msgId || ev.id || `seq:${m.seq}`;
      const type = ev.payload?.$case ?? "unknown";
      span.setAttributes({ [Attr.eventType]: type, [Attr.deviceId]: ev.deviceId, [Attr.sessionId]: ev.sessionId });
      rows.push(eventRows(ev, id, this.opts.maxTextBytes, receivedAt));
    }
    const timer = this.metrics.eventBatchSeconds.startTimer();
    try {
      const fresh = await writeEvents(this.db, rows);
      timer();
      this.log.debug({ events: batch.length, fresh: fresh.size }, "event batch committed");
      for (const m of batch) m.ack();
      for (const r of rows) {
        if (r.log.dedup_key && fresh.has(r.log.dedup_key))
          this.metrics.eventsStored.inc({ type: r.log.event_type ?? "" });
        else this.metrics.eventsDuplicate.inc();
      }
      const last = batch[batch.length - 1];
      if (last) this.metrics.eventsPending.set(last.info.pending);
      this.lastError = undefined;
      return true;
    } catch (err) {
      this.metrics.eventBatchFailures.inc();
      this.lastError = (err as Error).message;
      this.log.error({ err, events: batch.length }, "event batch failed, will be redelivered");
      for (const s of spans) recordFailure(s, err);
      // Ask for redelivery soon rather than after the full ack wait.
      for (const m of batch) m.nak(1_000);
      return false;
    } finally {
      for (const s of spans) s.end();
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
