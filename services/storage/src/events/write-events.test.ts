import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { events } from "@hotpin/contracts";
import { openDatabase } from "../db/connect";
import { postgresDatabase, sqliteDatabase, type TestDatabase } from "../testing/databases";
import { eventRows } from "./to-rows";
import { writeEvents } from "./write-events";

/** Texts the rows' JSON parameter must carry unchanged: quotes, escapes, non-ASCII, a replaced NUL, a long line. */
const TEXTS = [
  `quote " backslash \\ slash / tab \t newline \n`,
  "non-ASCII: é ß 中文 😀",
  "NUL \u0000 and a lone surrogate \ud800 are replaced before the JSON",
  "x".repeat(16_000),
  "",
];

const logEvent = (id: string, deviceId: string, time: number, message: string): events.Event => ({
  id,
  deviceId,
  sessionId: "s1",
  time: new Date(time),
  edgeInstance: "edge",
  payload: { $case: "log", value: { level: "warn", message } },
});

for (const make of [sqliteDatabase, postgresDatabase]) {
  describe(`storage - event batch writes (${make.name.replace("Database", "")})`, () => {
    test("rows cross as one JSON parameter unchanged; a redelivered batch stores nothing; devices keep their latest time", async () => {
      await using db: TestDatabase = await make();
      const open = await openDatabase({ url: db.url, dataDir: db.dataDir, schema: db.schema });
      try {
        const batch = TEXTS.map((t, i) =>
          eventRows(logEvent(`e${i}`, i % 2 ? "dev-b" : "dev-a", 1_000 + i, t), `e${i}`, 16_384, 0),
        );
        const fresh = await writeEvents(open, batch);
        assert.deepEqual([...fresh].sort(), TEXTS.map((_, i) => `evt:e${i}`).sort());
        const stored = await open.db
          .selectFrom("logs")
          .select(["dedup_key", "message", "time", "level", "device_id", "session_id", "event_type"])
          .orderBy("dedup_key")
          .execute();
        assert.deepEqual(
          stored,
          batch.map((r) => ({ ...r.log })).sort((a, b) => ((a.dedup_key ?? "") < (b.dedup_key ?? "") ? -1 : 1)),
        );
        assert.ok(stored.every((r) => !r.message.includes("\u0000")));

        assert.equal((await writeEvents(open, batch)).size, 0, "the same events again insert nothing");
        assert.equal(stored.length, (await open.db.selectFrom("logs").select("id").execute()).length);
        const devices = await open.db.selectFrom("devices").select(["id", "last_seen_at"]).orderBy("id").execute();
        assert.deepEqual(devices, [
          { id: "dev-a", last_seen_at: 1_004 },
          { id: "dev-b", last_seen_at: 1_003 },
        ]);
      } finally {
        await open.close();
      }
    });
  });
}
