import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { postgresDatabase, sqliteDatabase, type TestDatabase } from "../testing/databases";
import type { BatchStatement } from "./batch";
import { type OpenDatabase, openDatabase } from "./connect";

for (const make of [sqliteDatabase, postgresDatabase]) {
  describe(`storage - statement batches (${make.name.replace("Database", "")})`, () => {
    const withDb = async (fn: (open: OpenDatabase) => Promise<void>) => {
      await using db: TestDatabase = await make();
      open = await openDatabase({ url: db.url, dataDir: db.dataDir, schema: db.schema });
      try {
        await fn(open);
      } finally {
        await open.close();
      }
    };
    let open!: OpenDatabase;
    /** Compiled by Kysely for the dialect at hand, as the stores' statements are. */
    const insertSession = (id: string): BatchStatement => {
      const q = open.db
        .insertInto("devices")
        .values({ id, first_seen_at: 1, last_seen_at: 1 })
        .onConflict((oc) => oc.doNothing())
        .compile();
      return { sql: q.sql, parameters: q.parameters };
    };
    /** Without ON CONFLICT: a second one for the same id fails. */
    const strictInsert = (id: string): BatchStatement => {
      const q = open.db.insertInto("devices").values({ id, first_seen_at: 1, last_seen_at: 1 }).compile();
      return { sql: q.sql, parameters: q.parameters };
    };
    const ids = async (open: OpenDatabase) =>
      (await open.db.selectFrom("devices").select("id").orderBy("id").execute()).map((r) => r.id);

    test("a statement with ifChanged runs only when the one it names changed rows", async () => {
      await withDb(async (open) => {
        await open.batch([insertSession("a")]);
        const results = await open.batch([
          insertSession("a"), // exists: changes nothing
          { ...insertSession("b"), ifChanged: 0 }, // skipped
          insertSession("c"),
          { ...insertSession("d"), ifChanged: 2 }, // runs
        ]);
        assert.deepEqual(
          results.map((r) => r?.changes),
          [0, undefined, 1, 1],
        );
        assert.deepEqual(await ids(open), ["a", "c", "d"]);
      });
    });

    test("a failing statement rolls the whole batch back; batches in flight together each commit", async () => {
      await withDb(async (open) => {
        await assert.rejects(open.batch([insertSession("x"), strictInsert("x")]));
        assert.deepEqual(await ids(open), [], "nothing of the failed batch");
        // Queued behind each other (SQLite) or on two connections (PostgreSQL), interleaved with a Kysely transaction.
        await Promise.all([
          open.batch([insertSession("p1"), insertSession("p2")]),
          open.db.transaction().execute(async (tx) => {
            await tx.insertInto("devices").values({ id: "k", first_seen_at: 1, last_seen_at: 1 }).execute();
          }),
          open.batch([insertSession("q1")]),
        ]);
        assert.deepEqual(await ids(open), ["k", "p1", "p2", "q1"]);
      });
    });
  });
}
