import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { events } from "@hotpin/contracts";
import { EVENT_STREAM, EVENT_SUBJECTS, eventSubject } from "@hotpin/runtime";
import { startNats, type TestNats } from "@hotpin/test-support";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { sql } from "kysely";
import { waitFor } from "../testing/client";
import { postgresDatabase, sqliteDatabase, type TestDatabase } from "../testing/databases";
import { type InProcessStorage, startInProcess } from "../testing/in-process";

// Events that the database would refuse, or that carry user text, through the real consumer on
// real NATS, on both databases.

const MARK = "REFUSE-ME";

/** A real refusal by the database: a trigger that rejects any log line carrying MARK. */
async function refuseMarkedLogs(s: InProcessStorage, dialect: "sqlite" | "postgres"): Promise<void> {
  const db = s.components.database.db;
  if (dialect === "sqlite") {
    await sql
      .raw(
        `create trigger refuse_marked before insert on logs when new.message like '%${MARK}%' ` +
          "begin select raise(abort, 'refused by the test trigger'); end",
      )
      .execute(db);
    return;
  }
  await sql
    .raw(
      "create function refuse_marked() returns trigger language plpgsql as $$ begin " +
        `if new.message like '%${MARK}%' then raise exception 'refused by the test trigger'; end if; ` +
        "return new; end $$",
    )
    .execute(db);
  await sql
    .raw("create trigger refuse_marked before insert on logs for each row execute function refuse_marked()")
    .execute(db);
}

const suites = [
  { name: "sqlite", db: sqliteDatabase },
  { name: "postgres", db: postgresDatabase },
] as const;

for (const suite of suites) {
  describe(`storage event consumer, bad input (${suite.name})`, () => {
    let nats: TestNats;
    let db: TestDatabase;
    let s: InProcessStorage;
    /** Every answer of the consumer's health check other than true, sampled every 10 ms. */
    const unhealthy: string[] = [];
    let sampler: NodeJS.Timeout | undefined;

    before(async () => {
      nats = await startNats();
      db = await suite.db();
      s = await startInProcess(db, nats.url, {
        HOTPIN_STORAGE_CONSUMER_MAX_DELIVERIES: "3",
        HOTPIN_STORAGE_CONSUMER_RETRY_DELAY_MS: "50",
        // One second: text events must leave the stream within about that.
        HOTPIN_STORAGE_CONVERSATION_IDLE_TTL_S: "1",
      });
      await refuseMarkedLogs(s, suite.name);
      sampler = setInterval(() => {
        const c = s.components.consumer.check();
        if (c !== true) unhealthy.push(c);
      }, 10);
    });
    after(async () => {
      clearInterval(sampler);
      await s?.[Symbol.asyncDispose]();
      await db?.[Symbol.asyncDispose]();
      await nats?.[Symbol.asyncDispose]();
    });

    async function publish(evs: events.Event[]): Promise<void> {
      const js = jetstream(s.nc);
      await Promise.all(
        evs.map((ev) =>
          js.publish(eventSubject(ev.deviceId, ev.payload?.$case ?? "log"), events.Event.encode(ev).finish(), {
            msgID: ev.id,
          }),
        ),
      );
    }

    const logsOf = (deviceId: string) =>
      s.components.database.db
        .selectFrom("logs")
        .select(["dedup_key", "message", "event_type", "level"])
        .where("device_id", "=", deviceId)
        .orderBy("time")
        .execute();

    test("storage - a NUL byte in a close reason or a log line is stored replaced and never blocks the batch", async () => {
      const base = { deviceId: "nul-dev", sessionId: "nul-s", edgeInstance: "edge\u0000-1" };
      await publish([
        {
          ...base,
          id: "n1",
          time: new Date(1),
          payload: { $case: "connected", value: { dialect: "spec", remoteAddress: "" } },
        },
        {
          ...base,
          id: "n2",
          time: new Date(2),
          payload: { $case: "log", value: { level: "info", message: "a\u0000b" } },
        },
        {
          ...base,
          id: "n3",
          time: new Date(3),
          payload: { $case: "disconnected", value: { closeCode: 4000, reason: "bye\u0000\u0001now", clean: false } },
        },
        { ...base, id: "n4", time: new Date(4), payload: { $case: "log", value: { level: "info", message: "after" } } },
      ]);
      const rows = await waitFor(
        async () => {
          const r = await logsOf("nul-dev");
          return r.length === 4 ? r : undefined;
        },
        15_000,
        "4 log rows",
      );
      for (const r of rows) assert.ok(!r.message.includes("\u0000"), `no NUL stored: ${JSON.stringify(r.message)}`);
      assert.equal(rows[1]?.message, "a\uFFFDb");
      assert.match(rows[2]?.message ?? "", /reason=bye\uFFFD\uFFFDnow/);
      const session = await s.components.database.db
        .selectFrom("sessions")
        .selectAll()
        .where("id", "=", "nul-s")
        .executeTakeFirstOrThrow();
      assert.equal(session.notes, "close code 4000: bye\uFFFD\uFFFDnow");
      assert.equal(session.edge_instance, "edge\uFFFD-1");
      assert.equal((await s.metrics.eventBatchFailures.get()).values[0]?.value ?? 0, 0, "no batch failed");
    });

    test("storage - an event the database refuses is retried alone, dead-lettered after 3 deliveries, and the rest of its batch is stored", async () => {
      const base = { deviceId: "bad-dev", sessionId: "bad-s", edgeInstance: "edge-1" };
      const evs: events.Event[] = [];
      for (let i = 0; i < 11; i++) {
        const message = i === 5 ? `this one ${MARK}` : `line ${i}`;
        evs.push({
          ...base,
          id: `b${i}`,
          time: new Date(100 + i),
          payload: { $case: "log", value: { level: "info", message } },
        });
      }
      await publish(evs);
      const rows = await waitFor(
        async () => {
          const r = await logsOf("bad-dev");
          return r.length === 11 ? r : undefined;
        },
        20_000,
        "10 stored events and one dead-letter row",
      );
      const dead = rows.filter((r) => r.event_type === "dead_letter");
      assert.equal(dead.length, 1);
      assert.equal(dead[0]?.dedup_key, "evt:b5", "the dead-letter row is keyed by the refused event's id");
      assert.match(dead[0]?.message ?? "", /after 3 deliveries: type=log stream=HOTPIN_EVENTS seq=\d+/);
      assert.ok(!dead[0]?.message.includes(MARK), "the dead-letter row does not copy the event's content");
      assert.equal(rows.filter((r) => r.event_type === "log").length, 10);
      assert.equal((await s.metrics.eventsDeadLettered.get()).values[0]?.value, 1);
      // Terminated: nothing is left to redeliver.
      const jsm = await jetstreamManager(s.nc);
      let counts = "";
      await waitFor(
        async () => {
          const info = await jsm.consumers.info(EVENT_STREAM, s.cfg.consumerName);
          counts = `ack pending ${info.num_ack_pending}, pending ${info.num_pending}`;
          return info.num_ack_pending === 0 && info.num_pending === 0 ? true : undefined;
        },
        10_000,
        "no event pending",
      ).catch((err: Error) => assert.fail(`${err.message} (${counts})`));
      assert.deepEqual(unhealthy, [], "the consumer stayed healthy throughout");
      assert.equal(s.components.consumer.check(), true);
    });

    test("storage - transcripts and answers leave the event stream after the conversation TTL, and observers and storage still see them", async () => {
      const jsm = await jetstreamManager(s.nc);
      const seen: string[] = [];
      const sub = s.nc.subscribe(EVENT_SUBJECTS, {
        callback: (_err, m) => {
          seen.push(m.subject);
        },
      });
      await s.nc.flush();
      const base = { deviceId: "txt-dev", sessionId: "txt-s", edgeInstance: "edge-1" };
      await publish([
        {
          ...base,
          id: "t1",
          time: new Date(1_000),
          payload: {
            $case: "transcript",
            value: { utterance: 1, text: "my private words", confidence: 0.9, durationMs: 5 },
          },
        },
        {
          ...base,
          id: "t2",
          time: new Date(1_001),
          payload: { $case: "llmText", value: { utterance: 1, text: "a private answer", model: "m", hadImage: false } },
        },
        {
          ...base,
          id: "t3",
          time: new Date(1_002),
          payload: { $case: "partial", value: { utterance: 1, text: "my priv" } },
        },
        { ...base, id: "t4", time: new Date(1_003), payload: { $case: "ttsStarted", value: { utterance: 1 } } },
      ]);
      const rows = await waitFor(
        async () => {
          const r = await logsOf("txt-dev");
          return r.length === 4 ? r : undefined;
        },
        15_000,
        "4 log rows",
      );
      sub.unsubscribe();
      assert.deepEqual(
        rows.map((r) => r.event_type),
        ["transcript", "llmText", "partial", "ttsStarted"],
      );
      assert.ok(!rows.some((r) => r.message.includes("priv")), "no user text in the log");
      assert.deepEqual(seen.sort(), [
        "hotpin.events.txt-dev.llmText",
        "hotpin.events.txt-dev.partial",
        "hotpin.events.txt-dev.transcript",
        "hotpin.events.txt-dev.ttsStarted",
      ]);
      // TTL 1 s: gone within a few seconds; the event without text stays for the stream's own max age.
      let subjects: Record<string, number> | undefined;
      await waitFor(
        async () => {
          const info = await jsm.streams.info(EVENT_STREAM, { subjects_filter: "hotpin.events.txt-dev.>" });
          subjects = info.state.subjects;
          return Object.keys(subjects ?? {}).length === 1 ? true : undefined;
        },
        10_000,
        "text events purged",
      ).catch((err: Error) => assert.fail(`${err.message}: ${JSON.stringify(subjects)}`));
      assert.deepEqual(subjects, { "hotpin.events.txt-dev.ttsStarted": 1 });
      assert.ok(((await s.metrics.textEventsPurged.get()).values[0]?.value ?? 0) >= 3);
    });
  });
}
