// Events persisted per second from the stream (the consumer path: JetStream pull, decode, one
// transaction per batch, ack after commit) next to a plain batched insert loop on the same database
// in the same run. SQLite runs twice: through the worker thread (the service's path) and, as the
// "before" reference, on this thread, to compare the worst event-loop delay during the burst.
// `--json` prints one object; `--events N`, `--batch N` change the size.
import { monitorEventLoopDelay } from "node:perf_hooks";
import { events } from "@hotpin/contracts";
import { createLogger, EVENT_STREAM, ensureEventStream, eventSubject } from "@hotpin/runtime";
import { startNats } from "@hotpin/test-support";
import { AckPolicy, type JsMsg, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { Registry } from "prom-client";
import { type OpenDatabase, openDatabase } from "./db/connect";
import { EventConsumer } from "./events/consumer";
import { INSERT_CHUNK } from "./events/write-events";
import { createStorageMetrics } from "./metrics";
import { postgresDatabase, sqliteDatabase, type TestDatabase } from "./testing/databases";
import { openSqliteInThread } from "./testing/sqlite-in-thread";

const args = process.argv.slice(2);
const flag = (name: string, fallback: number) => {
  const i = args.indexOf(name);
  const v = i >= 0 ? Number(args[i + 1]) : fallback;
  if (!Number.isInteger(v) || v < 1 || v > 1_000_000) throw new Error(`${name} must be a whole number 1..1000000`);
  return v;
};
const EVENTS = flag("--events", 5000);
const BATCH = flag("--batch", 256);
const json = args.includes("--json");

interface Result {
  plain_rows_per_s: number;
  consumer_events_per_s: number;
  ratio: number;
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
  nats_only_cpu_us_per_event: number;
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

async function bench(make: () => Promise<TestDatabase>, openWith: Opener): Promise<Result> {
  await using nats = await startNats();
  await using db = await make();
  const open = await openWith(db);
  const nc = await connect({ servers: nats.url });
  try {
    // Plain loop: the same rows, batched the same way, written straight to the database.
    const plainElu = performance.eventLoopUtilization();
    const plainCpu = process.cpuUsage();
    const t0 = performance.now();
    const plainLoop = await worstLoopDelay(async () => {
      for (let i = 0; i < EVENTS; i += BATCH) {
        await open.db.transaction().execute(async (tx) => {
          const rows = [];
          for (let j = i; j < Math.min(i + BATCH, EVENTS); j++) {
            rows.push({
              time: j,
              session_id: "s",
              device_id: "plain",
              level: 2,
              message: `line ${j}`,
              dedup_key: `p${j}`,
              event_type: "log",
            });
          }
          for (let k = 0; k < rows.length; k += INSERT_CHUNK)
            await tx
              .insertInto("logs")
              .values(rows.slice(k, k + INSERT_CHUNK))
              .execute();
        });
      }
    });
    const plainS = (performance.now() - t0) / 1000;
    const plainBusy = performance.eventLoopUtilization(plainElu);
    const plainCpuUs = cpuUs(process.cpuUsage(plainCpu));

    await ensureEventStream(nc);
    const js = jetstream(nc);
    const pending: Promise<unknown>[] = [];
    for (let i = 0; i < EVENTS; i++) {
      const ev: events.Event = {
        id: `b${i}`,
        deviceId: "bench",
        sessionId: "s",
        time: new Date(i),
        edgeInstance: "bench",
        payload: { $case: "log", value: { level: "info", message: `line ${i}` } },
      };
      pending.push(js.publish(eventSubject("bench", "log"), events.Event.encode(ev).finish(), { msgID: ev.id }));
      if (pending.length >= 500) await Promise.all(pending.splice(0));
    }
    await Promise.all(pending);

    const registry = new Registry();
    const metrics = createStorageMetrics(registry);
    const consumer = new EventConsumer(
      nc,
      open.db,
      {
        name: "bench",
        batch: BATCH,
        ackWaitMs: 30_000,
        maxTextBytes: 16_384,
        maxEventBytes: 65_536,
        maxDeliveries: 5,
        retryDelayMs: 1_000,
        writers: open.dialect === "postgres" ? 2 : 1,
        stream: {
          maxAgeMs: 3_600_000,
          maxBytes: 1024 ** 3,
          replicas: 1,
          duplicateWindowMs: 600_000,
        },
        textTtlMs: 600_000,
      },
      metrics,
      createLogger("storage-bench", process.env.BENCH_LOG ?? "warn"),
    );
    const jsm = await jetstreamManager(nc);
    const elu = performance.eventLoopUtilization();
    const cpu = process.cpuUsage();
    const t1 = performance.now();
    const burst = await worstLoopDelay(async () => {
      await consumer.start();
      for (;;) {
        const info = await jsm.consumers.info(EVENT_STREAM, "bench");
        if (info.num_pending === 0 && info.num_ack_pending === 0) break;
        await new Promise((r) => setTimeout(r, 5));
      }
    });
    const consumerS = (performance.now() - t1) / 1000;
    const busy = performance.eventLoopUtilization(elu);
    const consumerCpuUs = cpuUs(process.cpuUsage(cpu));
    await consumer.stop();
    const natsOnly = await natsOnlyRate(nc);
    const stored = await open.db
      .selectFrom("logs")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("device_id", "=", "bench")
      .executeTakeFirstOrThrow();
    if (Number(stored.n) !== EVENTS) throw new Error(`stored ${stored.n} of ${EVENTS} events`);
    const batches = (await metrics.eventBatchSeconds.get()).values;
    const p99 = percentileFromHistogram(batches, 0.99);
    const batchCount = batches.find((v) => v.metricName?.endsWith("_count"))?.value ?? 0;
    const plain = EVENTS / plainS;
    const consumed = EVENTS / consumerS;
    return {
      plain_rows_per_s: Math.round(plain),
      consumer_events_per_s: Math.round(consumed),
      ratio: Number((consumed / plain).toFixed(3)),
      batch_commit_p99_ms: p99,
      mean_batch_size: Number((EVENTS / Math.max(1, batchCount)).toFixed(1)),
      event_loop_delay_max_ms: burst.maxMs,
      plain_event_loop_delay_max_ms: plainLoop.maxMs,
      consumer_main_thread_utilization: Number(busy.utilization.toFixed(2)),
      consumer_main_thread_us_per_event: Number(((busy.active * 1000) / EVENTS).toFixed(1)),
      plain_main_thread_us_per_row: Number(((plainBusy.active * 1000) / EVENTS).toFixed(1)),
      consumer_cpu_us_per_event: Number((consumerCpuUs / EVENTS).toFixed(1)),
      plain_cpu_us_per_row: Number((plainCpuUs / EVENTS).toFixed(1)),
      nats_only_cpu_us_per_event: Number((natsOnly.cpuUs / EVENTS).toFixed(1)),
      nats_only_events_per_s: Math.round(natsOnly.perS),
      ratio_to_nats_only: Number((consumed / natsOnly.perS).toFixed(3)),
    };
  } finally {
    await nc.close();
    await open.close();
  }
}

/** Events per second a second durable consumer pulls and acks (a batch at a time) without writing anything. */
async function natsOnlyRate(nc: Awaited<ReturnType<typeof connect>>): Promise<{ perS: number; cpuUs: number }> {
  const jsm = await jetstreamManager(nc);
  await jsm.consumers.add(EVENT_STREAM, {
    durable_name: "bench-nats-only",
    ack_policy: AckPolicy.Explicit,
    max_ack_pending: BATCH * 4,
  });
  const consumer = await jetstream(nc).consumers.get(EVENT_STREAM, "bench-nats-only");
  const cpu = process.cpuUsage();
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
  await jsm.consumers.delete(EVENT_STREAM, "bench-nats-only");
  return { perS: EVENTS / s, cpuUs: cpuUsed };
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
  const out: Record<string, unknown> = { events: EVENTS, batch: BATCH };
  let failed = false;
  const runs = [
    ["sqlite_in_thread", sqliteDatabase, inThread],
    ["sqlite", sqliteDatabase, service],
    ["postgres", postgresDatabase, service],
  ] as const;
  for (const [name, make, openWith] of runs) {
    try {
      const r = await bench(make, openWith);
      out[`${name}_ratio`] = r.ratio;
      out[name] = r;
    } catch (err) {
      failed = true;
      out[`${name}_ratio`] = null;
      out[`${name}_error`] = (err as Error).message;
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
      const r = out[name] as Result | undefined;
      if (!r) console.log(`${name}: failed: ${out[`${name}_error`]}`);
      else
        console.log(
          `${name}: consumer ${r.consumer_events_per_s} events/s, plain insert ${r.plain_rows_per_s} rows/s, ratio ${r.ratio}, ` +
            `NATS alone ${r.nats_only_events_per_s} events/s (consumer ÷ NATS alone ${r.ratio_to_nats_only}), ` +
            `batch commit p99 <= ${r.batch_commit_p99_ms} ms, event loop delay max ${r.event_loop_delay_max_ms} ms (plain loop ${r.plain_event_loop_delay_max_ms} ms), ` +
            `main thread ${r.consumer_main_thread_us_per_event} us/event busy ${r.consumer_main_thread_utilization} (plain ${r.plain_main_thread_us_per_row} us/row), ` +
            `cpu ${r.consumer_cpu_us_per_event} us/event (plain ${r.plain_cpu_us_per_row} us/row, NATS alone ${r.nats_only_cpu_us_per_event} us/event)`,
        );
    }
  }
  process.exit(failed ? 1 : 0);
}

void main();
