import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import SQLite from "better-sqlite3";
import { Kysely, sql } from "kysely";
import { type OpenDatabase, openDatabase, pingDatabase } from "../connect";
import type { Database } from "../schema";
import { SqliteWorker } from "./client";
import { SqliteWorkerDialect } from "./dialect";

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "hotpin-sqlite-worker-"));
});
after(() => rm(dir, { recursive: true, force: true }));

const session = (id: string) => ({
  id,
  device_id: "d",
  dialect: "",
  edge_instance: "",
  started_at: 1,
  status: 1,
  notes: "",
});

/** A second connection, on this thread, holding SQLite's write lock until released. */
function holdWriteLock(file: string): { release(): void } {
  const other = new SQLite(file);
  other.exec("begin immediate");
  return {
    release() {
      other.exec("rollback");
      other.close();
    },
  };
}

async function open(name: string): Promise<OpenDatabase> {
  return openDatabase({ url: "", dataDir: join(dir, name) });
}

test("storage - SQLite errors from the worker keep SQLite's code and class", async () => {
  const db = await open("codes");
  try {
    await db.db.insertInto("sessions").values(session("s1")).execute();
    const err = await db.db
      .insertInto("sessions")
      .values(session("s1"))
      .execute()
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    assert.ok(err instanceof SQLite.SqliteError, "a SqliteError");
    assert.equal((err as { code: string }).code, "SQLITE_CONSTRAINT_PRIMARYKEY");
  } finally {
    await db.close();
  }
});

test("storage - a query outside a transaction runs after it, never inside it", async () => {
  const db = await open("pinned");
  try {
    let outside: Promise<unknown[]> | undefined;
    await assert.rejects(
      db.db.transaction().execute(async (tx) => {
        await tx.insertInto("sessions").values(session("rolled-back")).execute();
        outside = db.db.selectFrom("sessions").select("id").execute();
        await tx.selectFrom("sessions").select("id").execute();
        throw new Error("roll back");
      }),
      /roll back/,
    );
    // On the shared handle inside the transaction it would have seen the row before the rollback.
    assert.deepEqual(await outside, []);
  } finally {
    await db.close();
  }
});

test("storage - a statement waiting on SQLite's lock leaves the event loop free", async () => {
  const db = await open("lock");
  const lock = holdWriteLock(db.location);
  let settled = false;
  const write = db.db
    .insertInto("sessions")
    .values(session("after-lock"))
    .execute()
    .finally(() => {
      settled = true;
    });
  // Run on this loop while the write waits: with SQLite on this thread we would not get here
  // until its busy timeout, and the write would fail with SQLITE_BUSY.
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(settled, false);
  lock.release();
  await write;
  assert.deepEqual(await db.db.selectFrom("sessions").select("id").execute(), [{ id: "after-lock" }]);
  await db.close();
});

test("storage - a dead SQLite worker fails the pending query, is restarted, and a transaction across the crash commits nothing", async () => {
  const file = join(dir, "dead.db");
  let exits = 0;
  let restarted!: () => void;
  const restart = new Promise<void>((resolve) => {
    restarted = resolve;
  });
  const worker = await SqliteWorker.open(
    { file, timeoutMs: 5_000 },
    { onExit: () => exits++, onRestart: () => restarted() },
  );
  const db = new Kysely<Database>({ dialect: new SqliteWorkerDialect(worker) });
  try {
    await sql`create table t (x integer)`.execute(db);
    let crash!: Promise<void>;
    const tx = db.transaction().execute(async (trx) => {
      const lock = holdWriteLock(file);
      // Cannot complete while the lock is held, so it is still pending when the thread dies.
      const pending = sql`insert into t values (1)`.execute(trx);
      crash = worker.terminate();
      lock.release();
      await assert.rejects(pending, /sqlite worker exited/);
      await crash;
      // Bounded, and a ref'd timer: the restart's own delay does not keep a process alive.
      let guard: NodeJS.Timeout | undefined;
      await Promise.race([
        restart,
        new Promise((_, reject) => {
          guard = setTimeout(() => reject(new Error("no restart within 5 s")), 5_000);
        }),
      ]).finally(() => clearTimeout(guard));
      // On the new worker this would be autocommitted without the first insert: refused instead.
      await sql`insert into t values (2)`.execute(trx);
    });
    await assert.rejects(tx, /restarted during the transaction/);
    assert.equal(exits, 1);
    assert.equal(worker.unusable, undefined, "usable again");
    await pingDatabase(db);
    assert.deepEqual((await sql<{ x: number }>`select x from t`.execute(db)).rows, [], "nothing of the transaction");
  } finally {
    await db.destroy();
  }
});

test("storage - closing waits for the transaction in hand, then refuses queries", async () => {
  const db = await open("close");
  let closed: Promise<void> | undefined;
  await db.db.transaction().execute(async (tx) => {
    await tx.insertInto("sessions").values(session("first")).execute();
    closed = db.close();
    await tx.insertInto("sessions").values(session("second")).execute();
  });
  await closed;
  await assert.rejects(pingDatabase(db.db), /destroyed/);
  const again = await open("close");
  try {
    const ids = await again.db.selectFrom("sessions").select("id").orderBy("id").execute();
    assert.deepEqual(ids, [{ id: "first" }, { id: "second" }]);
  } finally {
    await again.close();
  }
});
