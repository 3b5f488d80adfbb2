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
import { propagation, ROOT_CONTEXT, type Span, SpanKind, type SpanOptions } from "@opentelemetry/api";
import { pingDatabase } from "../db/connect";
import { isId } from "../errors";
import type { StorageMetrics } from "../metrics";
import {
  deadLetterRows,
  decodeEvent,
  type EventRows,
  eventRows,
  USER_TEXT_EVENT_TYPES,
  undecodableRows,
} from "./to-rows";
import { type EventDatabase, writeEvents } from "./write-events";

/** How often the consumer's pending and ack-pending counts are read from the server for the metrics. */
const COUNTS_EVERY_MS = 5_000;

export interface ConsumerOptions {
  /** Durable consumer name, on each event stream; replicas share it and split the streams between them. */
  name: string;
  batch: number;
  ackWaitMs: number;
  maxTextBytes: number;
  maxEventBytes: number;
  /** Deliveries after which an event that cannot be written is replaced by a dead-letter row. */
  maxDeliveries: number;
  /** Wait before a failed event is delivered again (times its delivery count). */
  retryDelayMs: number;
  /**
   * Batches written at once, each in its own transaction (PostgreSQL; SQLite has one connection, so 1).
   * Safe because every write is idempotent and commutes: log rows are keyed, session starts and ends
   * touch different columns, a device keeps its latest time; rows are locked in sorted order.
   */
  writers: number;
  stream: EventStreamLimits;
  /** Events with user text are purged from the stream once they are this old: the conversation's TTL. */
  textTtlMs: number;
}

/** The streams read; one today (the label on the consumer gauges says which). */
const STREAMS = [EVENT_STREAM];
type StreamName = string;

/** One delivered message, decoded as soon as it arrives (while the previous batch is being written). */
interface Received {
  msg: JsMsg;
  rows: EventRows;
  span: Span;
  stream: StreamName;
}

/** An event without a valid id of its own: its Nats-Msg-Id header, else where it sits in the stream. */
function fallbackId(msg: JsMsg, stream: StreamName): string {
  const header = msg.headers?.get("Nats-Msg-Id") || "";
  return isId(header) ? header : `seq:${stream}:${msg.seq}`;
}

/**
 * Reads the event stream with a durable pull consumer and writes every event as a log row
 * (and sessions from connects and disconnects). Messages are decoded as they arrive; one batch at
 * a time is written in one transaction, the next batch being whatever arrived meanwhile (up to
 * `batch`), so batches grow with the load and an idle consumer writes at once. Acks only after
 * commit, so a crash at any point leads to redelivery, and the event-id key makes redelivery harmless.
 *
 * A batch that fails while the database answers is retried one event at a time: the others are
 * stored, and the one the database refuses is delivered again later and, after `maxDeliveries`,
 * replaced by a dead-letter log row and terminated. One bad event never stops the consumer and
 * never fails readiness; only a database that does not answer does.
 */
export class EventConsumer {
  private readonly runs = new Map<StreamName, StreamRun>();
  private started = false;
  private stopping = false;
  private countsTimer: NodeJS.Timeout | undefined;
  private purgeTimer: NodeJS.Timeout | undefined;
  private readonly marks: Array<{ seq: number; time: number }> = [];
  private tail: { seq: number; time: number } | undefined;
  private purgedThrough = 0;
  /** Looked up once: the API's tracer provider hands out a new proxy tracer on every call. */
  private readonly spans = tracer();
  private readonly spanOptionsByStream = new Map<StreamName, SpanOptions>();

  constructor(
    private readonly nc: NatsConnection,
    private readonly database: EventDatabase,
    private readonly opts: ConsumerOptions,
    private readonly metrics: StorageMetrics,
    private readonly log: Logger,
  ) {}

  /** Creates the streams and the durable consumers (or brings them to the configured limits), then runs. */
  async start(): Promise<void> {
    await this.ensure();
    this.started = true;
    for (const stream of STREAMS) {
      const run = new StreamRun(stream, this);
      this.runs.set(stream, run);
      run.start();
    }
    this.countsTimer = setInterval(() => void this.readCounts(), COUNTS_EVERY_MS);
    this.countsTimer.unref();
    this.purgeTimer = setInterval(() => void this.purgeText(), Math.min(this.opts.textTtlMs / 2, 30_000));
    this.purgeTimer.unref();
  }

  /** Notes where the stream stood at a time (a processed message's sequence and timestamp), for purgeText. */
  private mark(msg: JsMsg): void {
    const at = { seq: msg.seq, time: msg.info.timestampNanos / 1e6 };
    if (this.tail && at.seq <= this.tail.seq) return;
    this.tail = at;
    const last = this.marks[this.marks.length - 1];
    // One mark a second at most: the list stays at about TTL/1 s entries; the tail covers an idle stream.
    if (!last || at.time - last.time >= 1_000) this.marks.push(at);
  }

  /**
   * Purges partials, transcripts and answers older than the conversation TTL from the stream
   * (JetStream 2.9 has no per-subject max age): every text subject below the newest processed
   * sequence whose timestamp is past the TTL. Other event types keep the stream's own max age.
   */
  private async purgeText(): Promise<void> {
    const cutoff = Date.now() - this.opts.textTtlMs;
    let upTo: number | undefined;
    while (this.marks[0] && this.marks[0].time <= cutoff) upTo = this.marks.shift()?.seq;
    if (this.tail && this.tail.time <= cutoff) upTo = this.tail.seq;
    if (upTo === undefined || upTo <= this.purgedThrough) return;
    try {
      const jsm = await jetstreamManager(this.nc);
      for (const type of USER_TEXT_EVENT_TYPES) {
        const r = await jsm.streams.purge(EVENT_STREAM, { filter: `hotpin.events.*.${type}`, seq: upTo + 1 });
        if (r.purged) this.metrics.textEventsPurged.inc(r.purged);
      }
      this.purgedThrough = upTo;
    } catch (err) {
      // Tried again at the next tick.
      this.marks.unshift({ seq: upTo, time: cutoff });
      this.log.warn({ err }, "purging text events failed");
    }
  }

  /** @internal for StreamRun */
  async ensure(): Promise<void> {
    await ensureEventStream(this.nc, this.opts.stream);
    const jsm = await jetstreamManager(this.nc);
    for (const stream of STREAMS) {
      const config = {
        durable_name: this.opts.name,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        filter_subject: EVENT_SUBJECTS,
        ack_wait: this.opts.ackWaitMs * 1_000_000,
        max_ack_pending: this.opts.batch * 4,
      };
      try {
        await jsm.consumers.update(stream, this.opts.name, config);
      } catch {
        await jsm.consumers.add(stream, config);
      }
    }
  }

  /** For health: running, and the database took the last batch (a refused event does not count). */
  check(): true | string {
    if (!this.started) return "not started";
    if (this.stopping) return "stopping";
    for (const [stream, run] of this.runs) if (run.lastError) return `${stream}: ${run.lastError}`;
    return true;
  }

  /** Finishes the batch in hand, then stops; events not yet written are released for redelivery. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.countsTimer);
    clearInterval(this.purgeTimer);
    await Promise.all([...this.runs.values()].map((r) => r.stop()));
  }

  /** Pending (not yet delivered) and ack-pending (delivered, not acked) counts, per stream, for the metrics. */
  private async readCounts(): Promise<void> {
    try {
      const jsm = await jetstreamManager(this.nc);
      for (const stream of STREAMS) {
        const info = await jsm.consumers.info(stream, this.opts.name);
        this.metrics.consumerPending.set({ stream }, info.num_pending);
        this.metrics.consumerAckPending.set({ stream }, info.num_ack_pending);
      }
    } catch {
      // NATS away: the gauges keep their last values; the nats health check says why.
    }
  }

  /** @internal for StreamRun: decodes one message into its rows, with its CONSUMER span. */
  receive(msg: JsMsg, stream: StreamName): Received {
    const span = this.spans.startSpan(
      "hotpin.events process",
      this.spanOptions(stream),
      // Headers are parsed only when there is a propagator to read them: parsing is a good share of the per-event cost.
      propagation.fields().length > 0 ? extractTrace(msg.headers) : ROOT_CONTEXT,
    );
    const receivedAt = Date.now();
    const ev = msg.data.length <= this.opts.maxEventBytes ? decodeEvent(msg.data) : undefined;
    if (!ev) {
      this.metrics.eventsUndecodable.inc();
      span.setAttribute(Attr.eventType, "undecodable");
      return {
        msg,
        stream,
        span,
        rows: undecodableRows(fallbackId(msg, stream), msg.subject, msg.data.length, receivedAt),
      };
    }
    const id = isId(ev.id) ? ev.id : fallbackId(msg, stream);
    // Attributes only for a span that records them (none without a tracer, or not sampled): one object less per event.
    if (span.isRecording())
      span.setAttributes({
        [Attr.eventType]: ev.payload?.$case ?? "unknown",
        [Attr.deviceId]: ev.deviceId,
        [Attr.sessionId]: ev.sessionId,
      });
    return { msg, stream, span, rows: eventRows(ev, id, this.opts.maxTextBytes, receivedAt) };
  }

  /** The CONSUMER span's options for a stream, built once (they are the same for every event). */
  private spanOptions(stream: StreamName): SpanOptions {
    let options = this.spanOptionsByStream.get(stream);
    if (!options) {
      options = {
        kind: SpanKind.CONSUMER,
        attributes: {
          [Attr.messagingSystem]: "nats",
          [Attr.messagingDestination]: stream,
          [Attr.messagingOperation]: "process",
        },
      };
      this.spanOptionsByStream.set(stream, options);
    }
    return options;
  }

  /**
   * @internal for StreamRun: writes one batch; resolves "ok" when every event was stored (or dead-lettered)
   * and acked, "database" when the database does not answer (the events are released for redelivery).
   */
  async write(batch: Received[]): Promise<"ok" | "database"> {
    const timer = this.metrics.eventBatchSeconds.startTimer();
    try {
      const fresh = await writeEvents(
        this.database,
        batch.map((r) => r.rows),
      );
      timer();
      this.log.debug({ events: batch.length, fresh: fresh.size }, "event batch committed");
      const last = batch[batch.length - 1];
      if (last) this.mark(last.msg);
      const stored = new Map<string, number>();
      let duplicates = 0;
      for (const r of batch) {
        r.msg.ack();
        r.span.end();
        const key = r.rows.log.dedup_key;
        const type = r.rows.log.event_type ?? "";
        if (key && fresh.delete(key)) stored.set(type, (stored.get(type) ?? 0) + 1);
        else duplicates++;
      }
      // Counted per batch, not per event: a labelled counter's lookup is not free at thousands per second.
      for (const [type, n] of stored) this.metrics.eventsStored.inc({ type }, n);
      if (duplicates) this.metrics.eventsDuplicate.inc(duplicates);
      return "ok";
    } catch (err) {
      this.metrics.eventBatchFailures.inc();
      if (!(await this.databaseAnswers())) {
        this.log.error({ err, events: batch.length }, "event batch failed, database unreachable; will be redelivered");
        for (const r of batch) this.retry(r, err);
        return "database";
      }
      this.log.warn({ err, events: batch.length }, "event batch refused, writing its events one by one");
      for (const r of batch) await this.writeAlone(r);
      return "ok";
    }
  }

  /** One event in its own transaction: the database refusing it affects no other event. */
  private async writeAlone(r: Received): Promise<void> {
    try {
      const fresh = await writeEvents(this.database, [r.rows]);
      r.msg.ack();
      r.span.end();
      if (r.rows.log.dedup_key && fresh.has(r.rows.log.dedup_key))
        this.metrics.eventsStored.inc({ type: r.rows.log.event_type ?? "" });
      else this.metrics.eventsDuplicate.inc();
      return;
    } catch (err) {
      const deliveries = r.msg.info.deliveryCount;
      if (deliveries < this.opts.maxDeliveries) {
        this.log.warn({ err, seq: r.msg.seq, stream: r.stream, deliveries }, "event refused by the database, retrying");
        this.retry(r, err);
        return;
      }
      // Bounded: the event is replaced by a row built only from safe values, keyed by its id, and terminated.
      const dead = deadLetterRows(r.rows, {
        stream: r.stream,
        seq: r.msg.seq,
        subject: r.msg.subject,
        deliveries,
        error: err as Error,
      });
      try {
        await writeEvents(this.database, [dead]);
      } catch (deadErr) {
        this.log.error({ err: deadErr, seq: r.msg.seq, stream: r.stream }, "dead-letter row refused, retrying");
        this.retry(r, err);
        return;
      }
      this.metrics.eventsDeadLettered.inc();
      this.log.error({ err, seq: r.msg.seq, stream: r.stream, deliveries }, "event dead-lettered");
      recordFailure(r.span, err);
      r.span.end();
      // No reason text: servers before 2.10.4 ignore "+TERM <reason>".
      r.msg.term();
    }
  }

  /** Delivered again later, after a delay that grows with its delivery count. */
  private retry(r: Received, err: unknown): void {
    this.metrics.eventsRetried.inc();
    recordFailure(r.span, err);
    r.span.end();
    r.msg.nak(this.opts.retryDelayMs * Math.min(r.msg.info.deliveryCount, 10));
  }

  private async databaseAnswers(): Promise<boolean> {
    try {
      await pingDatabase(this.database.db);
      return true;
    } catch {
      return false;
    }
  }

  /** @internal for StreamRun */
  get settings(): ConsumerOptions {
    return this.opts;
  }
  /** @internal for StreamRun */
  get logger(): Logger {
    return this.log;
  }
  /** @internal for StreamRun */
  get connection(): NatsConnection {
    return this.nc;
  }
}

/** The pull loop of one stream: a reader that decodes as messages arrive, and `writers` writers. */
class StreamRun {
  lastError: string | undefined;
  private messages: ConsumerMessages | undefined;
  private loop: Promise<void> | undefined;
  private stopping = false;
  /** Received, not yet written; bounded by the consumer's max_ack_pending on the server. */
  private queue: Received[] = [];
  /** Writers waiting for events. */
  private idle: Array<() => void> = [];
  private wakePause: (() => void) | undefined;

  constructor(
    private readonly stream: StreamName,
    private readonly owner: EventConsumer,
  ) {}

  start(): void {
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.wakePause?.();
    this.wakeWriters();
    this.messages?.stop();
    await this.loop;
    // Not written: released at once rather than after the ack wait.
    for (const r of this.queue.splice(0)) {
      r.span.end();
      r.msg.nak();
    }
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      try {
        await this.consume();
      } catch (err) {
        if (this.stopping) break;
        this.lastError = (err as Error).message;
        this.owner.logger.warn({ err, stream: this.stream }, "event consumer failed, restarting");
        await this.pause(1_000);
        await this.owner.ensure().catch(() => {});
      }
    }
  }

  private async consume(): Promise<void> {
    const { name, batch } = this.owner.settings;
    const consumer = await jetstream(this.owner.connection).consumers.get(this.stream, name);
    // Events the server sends to the open pull of a replica that just stopped come back after the ack wait.
    // A pull asks for a batch at least (the client's default refills at 75 %, a quarter at a time): every
    // pull request is a message for the server and for this loop (60,000 events: ~800 socket writes
    // before, ~540 now, acks included).
    // A callback, not the async iterator: each message is handled where the client parsed it, with no
    // promise and no microtask turn per message.
    const messages = await consumer.consume({
      max_messages: batch * 2,
      threshold_messages: batch,
      callback: (m) => {
        if (this.stopping) {
          m.nak();
          return;
        }
        this.queue.push(this.owner.receive(m, this.stream));
        this.idle.shift()?.();
      },
    });
    this.messages = messages;
    if (this.stopping) messages.stop();
    const reading = { ended: false };
    const writers = Array.from({ length: this.owner.settings.writers }, () => this.writer(reading));
    try {
      // Resolves when the pull ends: with the error that ended it (a pull request the server refused), or none.
      const err = await messages.closed();
      if (err) throw err;
    } finally {
      reading.ended = true;
      this.wakeWriters();
      await Promise.all(writers);
    }
  }

  /** Writes whatever has arrived, one batch at a time, until the run stops or reading ends and the queue is empty. */
  private async writer(reading: { ended: boolean }): Promise<void> {
    const { batch } = this.owner.settings;
    for (;;) {
      if (this.stopping) return;
      if (this.queue.length === 0) {
        if (reading.ended) return;
        await new Promise<void>((resolve) => this.idle.push(resolve));
        continue;
      }
      const result = await this.owner.write(this.queue.splice(0, batch));
      if (result === "ok") this.lastError = undefined;
      else {
        this.lastError = "database unreachable";
        await this.pause(500);
      }
    }
  }

  private wakeWriters(): void {
    for (const wake of this.idle.splice(0)) wake();
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wakePause = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
