import assert from "node:assert/strict";
import { test } from "node:test";
import { events } from "@hotpin/contracts";
import { EVENT_STREAM, eventSubject } from "@hotpin/runtime";
import { startNats } from "@hotpin/test-support";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { StorageMetrics } from "../metrics";
import { waitFor } from "../testing/client";
import { postgresDatabase, sqliteDatabase } from "../testing/databases";
import { startInProcess } from "../testing/in-process";

// Two storage replicas sharing the durable consumer (as a Deployment with two pods does), on one
// database: every event is stored exactly once while both run and after one of them stops mid-run.

const SESSIONS = 20;
const PER_SESSION = 50;

/** One session's events: connect, log lines, disconnect (so batches take both write paths). */
function sessionEvents(round: string, s: number): events.Event[] {
  const base = { deviceId: `dev-${s % 5}`, sessionId: `${round}-s${s}`, edgeInstance: "edge" };
  return Array.from({ length: PER_SESSION }, (_, i) => ({
    ...base,
    id: `${round}-${s}-${i}`,
    time: new Date(1_000 * s + i),
    payload:
      i === 0
        ? { $case: "connected" as const, value: { dialect: "spec", remoteAddress: "" } }
        : i === PER_SESSION - 1
          ? { $case: "disconnected" as const, value: { closeCode: 1000, reason: "", clean: true } }
          : { $case: "log" as const, value: { level: "info", message: `line ${i}` } },
  }));
}

async function publish(nc: NatsConnection, round: string): Promise<void> {
  const js = jetstream(nc);
  const all = Array.from({ length: SESSIONS }, (_, s) => sessionEvents(round, s)).flat();
  for (let i = 0; i < all.length; i += 200)
    await Promise.all(
      all.slice(i, i + 200).map((ev) =>
        js.publish(eventSubject(ev.deviceId, ev.payload?.$case ?? "log"), events.Event.encode(ev).finish(), {
          msgID: ev.id,
        }),
      ),
    );
}

const stored = async (m: StorageMetrics) => (await m.eventsStored.get()).values.reduce((sum, v) => sum + v.value, 0);

for (const make of [sqliteDatabase, postgresDatabase]) {
  test(`storage - two replicas sharing the durable consumer store every event exactly once, one stopping mid-run (${make.name.replace("Database", "")})`, async () => {
    await using nats = await startNats();
    await using db = await make();
    // Small batches so that both replicas get a share; a short ack wait for what the stopped one had been sent.
    const env = { HOTPIN_STORAGE_CONSUMER_BATCH: "20", HOTPIN_STORAGE_CONSUMER_ACK_WAIT_MS: "1000" };
    const a = await startInProcess(db, nats.url, env);
    await using b = await startInProcess(db, nats.url, env);
    const total = 2 * SESSIONS * PER_SESSION;
    const rows = () => b.components.database.db.selectFrom("logs").select("dedup_key").execute();

    await publish(b.nc, "r1");
    await waitFor(async () => ((await stored(a.metrics)) >= 100 ? true : undefined), 20_000, "replica a stores events");
    // Stopping finishes the batch in hand and releases the rest for redelivery to b.
    await a[Symbol.asyncDispose]();
    const storedByA = await stored(a.metrics);
    await publish(b.nc, "r2");

    const done = await waitFor(
      async () => {
        const r = await rows();
        return r.length >= total ? r : undefined;
      },
      60_000,
      `${total} log rows`,
    );
    const jsm = await jetstreamManager(b.nc);
    await waitFor(
      async () => {
        const info = await jsm.consumers.info(EVENT_STREAM, b.cfg.consumerName);
        return info.num_pending === 0 && info.num_ack_pending === 0 ? true : undefined;
      },
      20_000,
      "every event acked",
    );
    const keys = new Set(done.map((r) => r.dedup_key));
    const after = await rows();
    assert.equal(after.length, total, "no event stored twice, none lost");
    assert.equal(keys.size, total);
    assert.ok(storedByA > 0 && (await stored(b.metrics)) > 0, "both replicas stored events");
    assert.equal(storedByA + (await stored(b.metrics)), total, "each event counted stored once, by one replica");
    const sessions = await b.components.database.db
      .selectFrom("sessions")
      .select(["id", "ended_at"])
      .where("ended_at", "is not", null)
      .execute();
    assert.equal(sessions.length, 2 * SESSIONS, "every session started and ended");
  });
}
