// Events persisted per second from the stream (the consumer path: JetStream pull, decode, one
// transaction per batch, ack after commit) next to a plain batched insert loop of the same rows on
// the same database in the same run. SQLite runs twice: through the worker thread (the service's
// path) and, as the "before" reference, on this thread, to compare the worst event-loop delay.
// Both paths first work through `--warmup N` events untimed (the JIT compiles both before the
// clock starts), then `--events N` are timed. `--json` prints one object; `--batch N` changes the
// batch size; `--rounds N` (3) repeats plain loop and consumer, interleaved, and reports the median
// round; `--only sqlite,postgres` runs a subset. Each round also times the consumer's own writes
// without NATS (writeEvents on the same rows) and a pull-and-ack of the same events with no database,
// and reads nats-server's CPU time (a child process) around each, so the figures say where time goes.
import { readFileSync } from "node:fs";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { events } from "@hotpin/contracts";
import { createLogger, EVENT_STREAM, ensureEventStream, eventSubject } from "@hotpin/runtime";
import { startNats, statCpuSeconds } from "@hotpin/test-support";
import { AckPolicy, DeliverPolicy, type JsMsg, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { Registry } from "prom-client";
import { type OpenDatabase, openDatabase } from "./db/connect";
import { type ConsumerOptions, EventConsumer } from "./events/consumer";
import { eventRows } from "./events/to-rows";
import { writeEvents } from "./events/write-events";
import type { NewLog } from "./logs";
import { createStorageMetrics, type StorageMetrics } from "./metrics";
import { postgresDatabase, sqliteDatabase, type TestDatabase } from "./testing/databases";
import { openSqliteInThread } from "./testing/sqlite-in-thread";

const args = process.argv.slice(2);
const flag = (name: string, fallback: number, min = 1) => {
  const i = args.indexOf(name);
  const v = i >= 0 ? Number(args[i + 1]) : fallback;
  if (!Number.isInteger(v) || v < min || v > 1_000_000)
    throw new Error(`${name} must be a whole number ${min}..1000000`);
  return v;
};
const EVENTS = flag("--events", 20_000);
const WARMUP = flag("--warmup", 3_000, 0);
const BATCH = flag("--batch", 256);
const ROUNDS = flag("--rounds", 3);
const json = args.includes("--json");
const only = args.includes("--only") ? (args[args.indexOf("--only") + 1] ?? "").split(",") : undefined;
const MAX_TEXT = 16_384;
/** Rows per INSERT of the plain loop: a plain many-row VALUES list (7 parameters a row, far below both databases' limits). */
const INSERT_CHUNK = 100;

interface Result {
  plain_rows_per_s: number;
  consumer_events_per_s: number;
  /** Of the median round; `ratios` lists every round's. */
  ratio: number;
  ratios: number[];
  batch_commit_p99_ms: number;
  mean_batch_size: number;
  /** Worst event-loop delay while the consumer works through the burst. */
  event_loop_delay_max_ms: number;
  /** Same, during the plain insert loop. */
  plain_event_loop_delay_max_ms: number;
  /** Share of the consumer phase this thread was busy (1 = the main thread is the bottleneck). */
  consumer_main_thread_utilization: number;
  /** Busy time of this thread per event during the consumer phase. */
  consumer_main_thread_us_per_event: number;
  plain_main_thread_us_per_row: number;
  /** CPU time of this process (every thread) per event or row: less sensitive to a shared machine than rates. */
  consumer_cpu_us_per_event: number;
  plain_cpu_us_per_row: number;
  /** CPU time of the main thread alone per event or row (Linux; null elsewhere): the consumer's own work, load-independent. */
  consumer_main_thread_cpu_us_per_event: number | null;
  plain_main_thread_cpu_us_per_row: number | null;
  nats_only_cpu_us_per_event: number;
  /** CPU time of nats-server (a child of this process; Linux, else null) per event: what acks and deliveries cost the server. */
  consumer_nats_server_cpu_us_per_event: number | null;
  nats_only_nats_server_cpu_us_per_event: number | null;
  /** The consumer's own database writes (writeEvents, same batches, same statements) without NATS: its SQL's ceiling. */
  writes_only_rows_per_s: number;
  writes_only_cpu_us_per_row: number;
  /** consumer ÷ writes only: the share NATS (pull, acks) leaves of what the consumer's SQL allows. */
  ratio_to_writes_only: number;
  /** The same events pulled and acked (in batches, as the consumer does) with no database at all: NATS's own ceiling. */
  nats_only_events_per_s: number;
  /** consumer ÷ NATS-only: how much of what NATS alone allows the consumer reaches. */
  ratio_to_nats_only: number;
}

type Opener = (db: TestDatabase) => Promise<OpenDatabase>;
const service: Opener = (db) => openDatabase({ url: db.url, dataDir: db.dataDir, schema: db.schema });
const inThread: Opener = (db) => openSqliteInThread(db.dataDir);

/** Worst delay (ms) of this event loop while `fn` runs, sampled every millisecond. */
async function worstLoopDelay<T>(fn: () => Promise<T>): Promise<{ value: T; maxMs: number }> {
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  // The sampler's first tick only starts its clock: let it tick before the work can stall the loop.
  await new Promise((r) => setTimeout(r, 3));
  try {
    const value = await fn();
    // A stall that lasts until fn ends is recorded only when the sampling timer next fires.
    await new Promise((r) => setTimeout(r, 2));
    return { value, maxMs: Number((delay.max / 1e6).toFixed(1)) };
  } finally {
    delay.disable();
  }
}

/** CPU time (µs) of a task from its /proc stat file (Linux); undefined elsewhere or when it is gone. */
function statCpuUs(file: string): number | undefined {
  try {
    return statCpuSeconds(readFileSync(file, "utf8")) * 1e6;
  } catch {
    return undefined;
  }
}

/** CPU time of this (the main) thread in microseconds. */
const mainThreadCpuUs = () => statCpuUs(`/proc/self/task/${process.pid}/stat`);

/** CPU time of the nats-server processes this process started (startNats spawns the binary), summed. */
function natsServerCpuUs(): number | undefined {
  try {
    const children = readFileSync(`/proc/self/task/${process.pid}/children`, "utf8").trim().split(" ");
    let sum: number | undefined;
    for (const pid of children.filter(Boolean)) {
      if (readFileSync(`/proc/${pid}/comm`, "utf8").trim() !== "nats-server") continue;
      sum = (sum ?? 0) + (statCpuUs(`/proc/${pid}/stat`) ?? 0);
    }
    return sum;
  } catch {
    return undefined;
  }
}

/** What one phase cost: wall time, this thread's busy and CPU time, the process's CPU time, the worst loop delay. */
interface Cost {
  seconds: number;
  busyMs: number;
  mainCpuUs: number | undefined;
  cpuUs: number;
  natsServerCpuUs: number | undefined;
  loopDelayMaxMs: number;
}

async function measure(fn: () => Promise<void>): Promise<Cost> {
  const elu = performance.eventLoopUtilization();
  const cpu = process.cpuUsage();
  const main = mainThreadCpuUs();
  const server = natsServerCpuUs();
  const t0 = performance.now();
  const { maxMs } = await worstLoopDelay(fn);
  const seconds = (performance.now() - t0) / 1000;
  const mainNow = mainThreadCpuUs();
  const serverNow = natsServerCpuUs();
  return {
    seconds,
    busyMs: performance.eventLoopUtilization(elu).active,
    mainCpuUs: main === undefined || mainNow === undefined ? undefined : mainNow - main,
    cpuUs: cpuUs(process.cpuUsage(cpu)),
    natsServerCpuUs: server === undefined || serverNow === undefined ? undefined : serverNow - server,
    loopDelayMaxMs: maxMs,
  };
}

/** The bench's events: edge log lines of one device and session, as the edge publishes them. */
function benchEvent(prefix: string, i: number): events.Event {
  return {
    id: `${prefix}${i}`,
    deviceId: "bench",
    sessionId: "s",
    time: new Date(i),
    edgeInstance: "bench",
    payload: { $case: "log", value: { level: "info", message: `line ${i}` } },
  };
}

/** The rows the consumer builds for the bench's events (built before the clock starts). */
const benchRows = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => eventRows(benchEvent(prefix, i), `${prefix}${i}`, MAX_TEXT, 0));

/** The plain loop: the rows the consumer writes for the same events, batched the same way, inserted straight. */
async function plainLoop(open: OpenDatabase, prefix: string, n: number): Promise<void> {
  const rows: NewLog[] = benchRows(prefix, n).map((r) => r.log);
  for (let i = 0; i < n; i += BATCH) {
    await open.db.transaction().execute(async (tx) => {
      const batch = rows.slice(i, i + BATCH);
      for (let k = 0; k < batch.length; k += INSERT_CHUNK)
        await tx
          .insertInto("logs")
          .values(batch.slice(k, k + INSERT_CHUNK))
          .execute();
    });
  }
}

/** The consumer's own writes of the same rows, batch by batch, one batch in flight (no NATS, no decoding). */
async function writesOnly(open: OpenDatabase, prefix: string, n: number): Promise<void> {
  const rows = benchRows(prefix, n);
  for (let i = 0; i < n; i += BATCH) await writeEvents(open, rows.slice(i, i + BATCH));
}

async function publish(nc: NatsConnection, prefix: string, n: number): Promise<number> {
  const js = jetstream(nc);
  const pending: Promise<{ seq: number }>[] = [];
  let first = 0;
  for (let i = 0; i < n; i++) {
    const ev = benchEvent(prefix, i);
    pending.push(
      js.publish(eventSubject("bench", "log"), events.Event.encode(ev).finish(), { msgID: ev.id, timeout: 30_000 }),
    );
    if (pending.length >= 500) first ||= (await Promise.all(pending.splice(0)))[0]?.seq ?? 0;
  }
  const acks = await Promise.all(pending);
  return first || (acks[0]?.seq ?? 0);
}

const storedCount = async (metrics: StorageMetrics) =>
  (await metrics.eventsStored.get()).values.reduce((sum, v) => sum + v.value, 0);

/** Runs the service's consumer until the `n` events just published are stored and acked. */
async function drain(nc: NatsConnection, open: OpenDatabase, metrics: StorageMetrics, n: number): Promise<void> {
  const opts: ConsumerOptions = {
    name: "bench",
    batch: BATCH,
    ackWaitMs: 30_000,
    maxTextBytes: MAX_TEXT,
    maxEventBytes: 65_536,
    maxDeliveries: 5,
    retryDelayMs: 1_000,
    writers: 2,
    stream: { maxAgeMs: 3_600_000, maxBytes: 1024 ** 3, replicas: 1, duplicateWindowMs: 600_000 },
    textTtlMs: 600_000,
  };
  const consumer = new EventConsumer(
    nc,
    open,
    opts,
    metrics,
    createLogger("storage-bench", process.env.BENCH_LOG ?? "warn"),
  );
  const jsm = await jetstreamManager(nc);
  const target = (await storedCount(metrics)) + n;
  await consumer.start();
  // Done when the consumer has stored them all (read from its own counter: polling the server every
  // few milliseconds would load the very path being measured), then the server agrees (bounded).
  while ((await storedCount(metrics)) < target) await new Promise((r) => setTimeout(r, 2));
  for (let i = 0; ; i++) {
    const info = await jsm.consumers.info(EVENT_STREAM, "bench");
    if (info.num_pending === 0 && info.num_ack_pending === 0) break;
    if (i > 2_000) throw new Error("the consumer's acks never reached the server");
    await new Promise((r) => setTimeout(r, 5));
  }
  await consumer.stop();
}

const perEvent = (us: number | undefined) => (us === undefined ? null : Number((us / EVENTS).toFixed(1)));

async function bench(make: () => Promise<TestDatabase>, openWith: Opener): Promise<Result> {
  await using nats = await startNats();
  await using db = await make();
  const open = await openWith(db);
  const nc = await connect({ servers: nats.url });
  try {
    await ensureEventStream(nc);
    const metrics = createStorageMetrics(new Registry());
    // Warm-up, untimed: both paths once, so that neither is measured while the JIT compiles it.
    if (WARMUP > 0) {
      await plainLoop(open, "pw", WARMUP);
      await writesOnly(open, "ww", WARMUP);
      await publish(nc, "w", WARMUP);
      await drain(nc, open, metrics, WARMUP);
    }
    metrics.eventBatchSeconds.reset();

    // Rounds of plain loop then consumer, interleaved, so that a change in the machine's load hits both;
    // the figures are the median round's (by ratio), and every round's ratio is listed.
    const rounds: Array<{
      plain: Cost;
      writes: Cost;
      consumer: Cost;
      natsOnly: { perS: number; cpuUs: number; serverCpuUs: number | undefined };
      ratio: number;
    }> = [];
    for (let r = 0; r < ROUNDS; r++) {
      const plain = await measure(() => plainLoop(open, `p${r}-`, EVENTS));
      const writes = await measure(() => writesOnly(open, `o${r}-`, EVENTS));
      const firstSeq = await publish(nc, `b${r}-`, EVENTS);
      const consumer = await measure(() => drain(nc, open, metrics, EVENTS));
      const natsOnly = await natsOnlyRate(nc, firstSeq);
      rounds.push({ plain, writes, consumer, natsOnly, ratio: plain.seconds / consumer.seconds });
    }
    const stored = await open.db
      .selectFrom("logs")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("device_id", "=", "bench")
      .executeTakeFirstOrThrow();
    const expected = (EVENTS * ROUNDS + WARMUP) * 3;
    if (Number(stored.n) !== expected) throw new Error(`stored ${stored.n} of ${expected} rows`);
    const { plain, writes, consumer, natsOnly } = [...rounds].sort((a, b) => a.ratio - b.ratio)[
      Math.floor(ROUNDS / 2)
    ] as (typeof rounds)[number];
    const batches = (await metrics.eventBatchSeconds.get()).values;
    const plainRate = EVENTS / plain.seconds;
    const consumed = EVENTS / consumer.seconds;
    return {
      plain_rows_per_s: Math.round(plainRate),
      consumer_events_per_s: Math.round(consumed),
      ratio: Number((consumed / plainRate).toFixed(3)),
      ratios: rounds.map((r) => Number(r.ratio.toFixed(3))),
      batch_commit_p99_ms: percentileFromHistogram(batches, 0.99),
      mean_batch_size: Number(((EVENTS * ROUNDS) / Math.max(1, batchCount({ values: batches }))).toFixed(1)),
      event_loop_delay_max_ms: consumer.loopDelayMaxMs,
      plain_event_loop_delay_max_ms: plain.loopDelayMaxMs,
      consumer_main_thread_utilization: Number((consumer.busyMs / 1000 / consumer.seconds).toFixed(2)),
      consumer_main_thread_us_per_event: Number(((consumer.busyMs * 1000) / EVENTS).toFixed(1)),
      plain_main_thread_us_per_row: Number(((plain.busyMs * 1000) / EVENTS).toFixed(1)),
      consumer_main_thread_cpu_us_per_event: perEvent(consumer.mainCpuUs),
      plain_main_thread_cpu_us_per_row: perEvent(plain.mainCpuUs),
      consumer_cpu_us_per_event: Number((consumer.cpuUs / EVENTS).toFixed(1)),
      plain_cpu_us_per_row: Number((plain.cpuUs / EVENTS).toFixed(1)),
      nats_only_cpu_us_per_event: Number((natsOnly.cpuUs / EVENTS).toFixed(1)),
      consumer_nats_server_cpu_us_per_event: perEvent(consumer.natsServerCpuUs),
      nats_only_nats_server_cpu_us_per_event: perEvent(natsOnly.serverCpuUs),
      writes_only_rows_per_s: Math.round(EVENTS / writes.seconds),
      writes_only_cpu_us_per_row: Number((writes.cpuUs / EVENTS).toFixed(1)),
      ratio_to_writes_only: Number((writes.seconds / consumer.seconds).toFixed(3)),
      nats_only_events_per_s: Math.round(natsOnly.perS),
      ratio_to_nats_only: Number((consumed / natsOnly.perS).toFixed(3)),
    };
  } finally {
    await nc.close();
    await open.close();
  }
}

const batchCount = (h: { values: Array<{ value: number; metricName?: string }> }) =>
  h.values.find((v) => v.metricName?.endsWith("_count"))?.value ?? 0;

/** Events per second a second durable consumer pulls and acks (a batch at a time) without writing anything. */
async function natsOnlyRate(
  nc: NatsConnection,
  firstSeq: number,
): Promise<{ perS: number; cpuUs: number; serverCpuUs: number | undefined }> {
  const jsm = await jetstreamManager(nc);
  await jsm.consumers.add(EVENT_STREAM, {
    durable_name: "bench-nats-only",
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: firstSeq,
    max_ack_pending: BATCH * 4,
  });
  const consumer = await jetstream(nc).consumers.get(EVENT_STREAM, "bench-nats-only");
  const cpu = process.cpuUsage();
  const server = natsServerCpuUs();
  const t0 = performance.now();
  const messages = await consumer.consume({ max_messages: BATCH * 2 });
  let held: JsMsg[] = [];
  let n = 0;
  for await (const m of messages) {
    held.push(m);
    if (++n === EVENTS || held.length === BATCH) {
      for (const h of held) h.ack();
      held = [];
    }
    if (n === EVENTS) break;
  }
  for (;;) {
    const info = await jsm.consumers.info(EVENT_STREAM, "bench-nats-only");
    if (info.num_pending === 0 && info.num_ack_pending === 0) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  const s = (performance.now() - t0) / 1000;
  const cpuUsed = cpuUs(process.cpuUsage(cpu));
  const serverNow = natsServerCpuUs();
  await jsm.consumers.delete(EVENT_STREAM, "bench-nats-only");
  return {
    perS: EVENTS / s,
    cpuUs: cpuUsed,
    serverCpuUs: server === undefined || serverNow === undefined ? undefined : serverNow - server,
  };
}

const cpuUs = (u: NodeJS.CpuUsage) => u.user + u.system;

/** The upper bucket bound below which `q` of the batch commits fell (milliseconds). */
function percentileFromHistogram(
  values: Array<{ value: number; labels: Record<string, unknown>; metricName?: string }>,
  q: number,
): number {
  const buckets = values
    .filter((v) => v.metricName?.endsWith("_bucket"))
    .map((v) => ({ le: Number(v.labels.le), n: v.value }));
  const total = buckets.find((b) => b.le === Number.POSITIVE_INFINITY)?.n ?? 0;
  const hit = buckets.find((b) => b.n >= total * q);
  return hit ? hit.le * 1000 : 0;
}

async function main(): Promise<void> {
  const out: Record<string, unknown> = { events: EVENTS, warmup: WARMUP, rounds: ROUNDS, batch: BATCH };
  let failed = false;
  const runs = [
    ["sqlite_in_thread", sqliteDatabase, inThread],
    ["sqlite", sqliteDatabase, service],
    ["postgres", postgresDatabase, service],
  ] as const;
  for (const [name, make, openWith] of runs) {
    if (only && !only.includes(name)) continue;
    try {
      const r = await bench(make, openWith);
      out[`${name}_ratio`] = r.ratio;
      out[name] = r;
    } catch (err) {
      failed = true;
      out[`${name}_ratio`] = null;
      out[`${name}_error`] = (err as Error).message;
      if (process.env.BENCH_DEBUG) console.error(err);
    }
  }
  const before = out.sqlite_in_thread as Result | undefined;
  const after = out.sqlite as Result | undefined;
  out.sqlite_event_loop_delay_max_ms = {
    before_in_thread: before?.event_loop_delay_max_ms ?? null,
    after_worker: after?.event_loop_delay_max_ms ?? null,
  };
  if (json) console.log(JSON.stringify(out));
  else {
    for (const [name] of runs) {
      if (only && !only.includes(name)) continue;
      const r = out[name] as Result | undefined;
      if (!r) console.log(`${name}: failed: ${out[`${name}_error`]}`);
      else
        console.log(
          `${name}: consumer ${r.consumer_events_per_s} events/s, plain insert ${r.plain_rows_per_s} rows/s, ratio ${r.ratio} (rounds ${r.ratios.join(", ")}), ` +
            `NATS alone ${r.nats_only_events_per_s} events/s (consumer ÷ NATS alone ${r.ratio_to_nats_only}), ` +
            `the consumer's writes alone ${r.writes_only_rows_per_s} rows/s (consumer ÷ writes alone ${r.ratio_to_writes_only}), ` +
            `batch commit p99 <= ${r.batch_commit_p99_ms} ms, event loop delay max ${r.event_loop_delay_max_ms} ms (plain loop ${r.plain_event_loop_delay_max_ms} ms), ` +
            `main thread ${r.consumer_main_thread_us_per_event} us/event busy ${r.consumer_main_thread_utilization} (plain ${r.plain_main_thread_us_per_row} us/row), ` +
            `main thread cpu ${r.consumer_main_thread_cpu_us_per_event} us/event (plain ${r.plain_main_thread_cpu_us_per_row} us/row), ` +
            `cpu ${r.consumer_cpu_us_per_event} us/event (plain ${r.plain_cpu_us_per_row} us/row, writes alone ${r.writes_only_cpu_us_per_row} us/row, NATS alone ${r.nats_only_cpu_us_per_event} us/event), ` +
            `nats-server cpu ${r.consumer_nats_server_cpu_us_per_event} us/event (NATS alone ${r.nats_only_nats_server_cpu_us_per_event})`,
        );
    }
  }
  process.exit(failed ? 1 : 0);
}

void main();
