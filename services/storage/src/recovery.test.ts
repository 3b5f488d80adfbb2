import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, afterEach, before, beforeEach, describe, test } from "node:test";
import { events, storage } from "@hotpin/contracts";
import { createGrpcClient, EVENT_STREAM, ensureEventStream, eventSubject } from "@hotpin/runtime";
import { startNats, startOtlpCollector, type TestNats } from "@hotpin/test-support";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, headers, type NatsConnection } from "@nats-io/transport-node";
import { sql } from "kysely";
import { openDatabase } from "./db/connect";
import { type StorageProcess, spawnStorage } from "./testing/child";
import { call, waitFor } from "./testing/client";
import { postgresDatabase, sqliteDatabase, type TestDatabase } from "./testing/databases";

const EVENTS = 1000;
const SESSIONS = 10;

/** 1000 events of one device: 10 sessions connecting, then log lines, each with its own id. */
async function publishEvents(nc: NatsConnection, deviceId: string): Promise<void> {
  const js = jetstream(nc);
  const pending: Promise<unknown>[] = [];
  for (let i = 0; i < EVENTS; i++) {
    const ev: events.Event = {
      id: `${deviceId}-${i}`,
      deviceId,
      sessionId: `${deviceId}-s${i % SESSIONS}`,
      time: new Date(Date.UTC(2031, 0, 1) + i),
      edgeInstance: "edge-test",
      payload:
        i < SESSIONS
          ? { $case: "connected", value: { dialect: "firmware", remoteAddress: "" } }
          : { $case: "log", value: { level: "info", message: `line ${i}` } },
    };
    pending.push(
      js.publish(eventSubject(deviceId, ev.payload?.$case ?? "log"), events.Event.encode(ev).finish(), {
        msgID: ev.id,
      }),
    );
    if (pending.length >= 200) await Promise.all(pending.splice(0));
  }
  await Promise.all(pending);
}

/** Counts straight from the database: rows for the device, and distinct event keys among them. */
async function countStored(db: TestDatabase, deviceId: string) {
  const open = await openDatabase({ url: db.url, dataDir: db.dataDir, schema: db.schema });
  try {
    const logs = await open.db
      .selectFrom("logs")
      .select([sql<number>`count(*)`.as("rows"), sql<number>`count(distinct dedup_key)`.as("keys")])
      .where("device_id", "=", deviceId)
      .executeTakeFirstOrThrow();
    const sessions = await open.db
      .selectFrom("sessions")
      .select(sql<number>`count(*)`.as("rows"))
      .where("device_id", "=", deviceId)
      .executeTakeFirstOrThrow();
    return { logs: Number(logs.rows), keys: Number(logs.keys), sessions: Number(sessions.rows) };
  } finally {
    await open.close();
  }
}

/** Resolves once the durable consumer has nothing left to deliver and nothing awaiting an ack. */
async function consumerDrained(nc: NatsConnection, name: string): Promise<void> {
  const jsm = await jetstreamManager(nc);
  await waitFor(
    async () => {
      const info = await jsm.consumers.info(EVENT_STREAM, name);
      return info.num_pending === 0 && info.num_ack_pending === 0 ? true : undefined;
    },
    30_000,
    "the consumer to drain",
  );
}

const databases: Array<{ name: string; db: () => Promise<TestDatabase> }> = [
  { name: "sqlite", db: sqliteDatabase },
  { name: "postgres", db: postgresDatabase },
];

for (const database of databases) {
  describe(`storage process recovery (${database.name})`, () => {
    // One database for the suite; a NATS server per test, so that each test's consumer sees only its events.
    let db: TestDatabase;
    let nats: TestNats | undefined;
    let nc: NatsConnection;
    let child: StorageProcess | undefined;

    before(async () => {
      db = await database.db();
    });
    beforeEach(async () => {
      nats = await startNats();
      nc = await connect({ servers: (nats as TestNats).url });
      // As the edge does before publishing: the stream exists whether or not storage runs.
      await ensureEventStream(nc);
    });
    afterEach(async () => {
      await child?.kill("SIGKILL");
      await nc?.close();
      await nats?.[Symbol.asyncDispose]();
    });
    after(async () => {
      await db?.[Symbol.asyncDispose]();
    });

    test("storage - events published while it is stopped are all stored exactly once after it starts", async () => {
      // Events that reach the pull the stopped process left open are redelivered after the ack wait.
      const env = {
        HOTPIN_STORAGE_CONSUMER_NAME: "stopped",
        HOTPIN_STORAGE_CONSUMER_BATCH: "64",
        HOTPIN_STORAGE_CONSUMER_ACK_WAIT_MS: "2000",
      };
      child = await spawnStorage(db, (nats as TestNats).url, env);
      assert.equal(await child.kill("SIGTERM"), 0, "graceful shutdown exits 0");
      await publishEvents(nc, "stopped-dev");
      assert.deepEqual(await countStored(db, "stopped-dev"), { logs: 0, keys: 0, sessions: 0 });
      child = await spawnStorage(db, (nats as TestNats).url, env);
      await consumerDrained(nc, "stopped");
      assert.deepEqual(await countStored(db, "stopped-dev"), { logs: EVENTS, keys: EVENTS, sessions: SESSIONS });
      // What the consumer wrote is what the API answers.
      const client = createGrpcClient(storage.StorageClient, `127.0.0.1:${child.port}`);
      const session = await call<"getSession", storage.GetSessionRequest, storage.Session>(client, "getSession", {
        id: "stopped-dev-s3",
      });
      assert.equal(session.status, storage.SessionStatus.SESSION_STATUS_ACTIVE);
      client.close();
      await child.kill("SIGTERM");
    });

    test("storage - killed (SIGKILL) in the middle of a batch, it still stores every event exactly once", async () => {
      // Small batches and a short ack wait: the kill lands among many batches, and redelivery is quick.
      const env = {
        HOTPIN_STORAGE_CONSUMER_NAME: "killed",
        HOTPIN_STORAGE_CONSUMER_BATCH: "5",
        HOTPIN_STORAGE_CONSUMER_ACK_WAIT_MS: "1000",
        HOTPIN_LOG_LEVEL: "debug",
      };
      await publishEvents(nc, "killed-dev");
      child = await spawnStorage(db, (nats as TestNats).url, env);
      await child.waitForLog("event batch committed");
      assert.equal(await child.kill("SIGKILL"), null, "killed, not exited");
      const partial = await countStored(db, "killed-dev");
      assert.ok(partial.logs > 0 && partial.logs < EVENTS, `killed part way (stored ${partial.logs} of ${EVENTS})`);
      child = await spawnStorage(db, (nats as TestNats).url, { ...env, HOTPIN_LOG_LEVEL: "info" });
      await consumerDrained(nc, "killed");
      assert.deepEqual(await countStored(db, "killed-dev"), { logs: EVENTS, keys: EVENTS, sessions: SESSIONS });
      await child.kill("SIGTERM");
    });

    if (database.name === "sqlite") {
      test("storage - the consumer span is a child of the publisher's trace context", async () => {
        await using collector = await startOtlpCollector();
        child = await spawnStorage(db, (nats as TestNats).url, {
          HOTPIN_STORAGE_CONSUMER_NAME: "traced",
          OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint,
          OTEL_BSP_SCHEDULE_DELAY: "100",
          OTEL_SERVICE_NAME: "storage",
        });
        const traceId = randomBytes(16).toString("hex");
        const spanId = randomBytes(8).toString("hex");
        const h = headers();
        h.set("traceparent", `00-${traceId}-${spanId}-01`);
        const ev: events.Event = {
          id: "traced-1",
          deviceId: "traced-dev",
          sessionId: "traced-s",
          time: new Date(),
          edgeInstance: "",
          payload: { $case: "stateChanged", value: { from: "idle", to: "recording" } },
        };
        await jetstream(nc).publish(eventSubject(ev.deviceId, "stateChanged"), events.Event.encode(ev).finish(), {
          msgID: ev.id,
          headers: h,
        });
        const spans = await collector.waitFor((all) => all.some((s) => s.traceId === traceId), 15_000);
        const consumer = spans.find((s) => s.traceId === traceId);
        assert.equal(consumer?.name, "hotpin.events process");
        assert.equal(consumer?.parentSpanId, spanId);
        assert.equal(consumer?.attributes["hotpin.event.type"], "stateChanged");
        await child.kill("SIGTERM");
      });
    }
  });
}
