import type { Compilable, Kysely } from "kysely";
import type { BatchStatement } from "../db/batch";
import type { OpenDatabase } from "../db/connect";
import type { Database } from "../db/schema";
import type { NewLog } from "../logs";
import { touchDevice, upsertEnd, upsertStart } from "../sessions";
import type { EventRows, SessionChange } from "./to-rows";

/** Log rows per INSERT statement: 7 parameters each stays far below SQLite's and PostgreSQL's bound-parameter limits. */
export const INSERT_CHUNK = 100;

/** The log columns in the order of the compiled INSERT's parameters. */
const LOG_COLUMNS = ["time", "session_id", "device_id", "level", "message", "dedup_key", "event_type"] as const;

/**
 * Kysely's SQL for inserting `n` log rows, compiled once per row count and database: compiling a
 * many-row INSERT costs more per event than everything else the consumer does, and its text depends
 * only on `n` (every value is a parameter, in the order of LOG_COLUMNS).
 */
const compiledInserts = new WeakMap<Kysely<Database>, Map<number, string>>();

function insertLogs(db: Kysely<Database>, rows: NewLog[]): BatchStatement {
  let byCount = compiledInserts.get(db);
  if (!byCount) {
    byCount = new Map();
    compiledInserts.set(db, byCount);
  }
  // Every value a parameter, none undefined (Kysely would write DEFAULT for that and the text would differ).
  const parameters: unknown[] = new Array(rows.length * LOG_COLUMNS.length);
  let k = 0;
  for (const r of rows) for (const c of LOG_COLUMNS) parameters[k++] = r[c] ?? null;
  let sql = byCount.get(rows.length);
  if (!sql) {
    const shaped = rows.map((r) => Object.fromEntries(LOG_COLUMNS.map((c) => [c, r[c] ?? null])) as NewLog);
    sql = db
      .insertInto("logs")
      .values(shaped)
      .onConflict((oc) => oc.column("dedup_key").doNothing())
      .returning("dedup_key")
      .compile().sql;
    byCount.set(rows.length, sql);
  }
  return { sql, parameters };
}

/** What writing events needs of the database: the query builder (to compile) and batches. */
export type EventDatabase = Pick<OpenDatabase, "db" | "batch">;

const statement = (q: Compilable): BatchStatement => {
  const { sql, parameters } = q.compile();
  return { sql, parameters };
};

/**
 * Writes a batch of events in one transaction (one batch of statements: db/batch.ts). The log row's
 * unique event key makes this idempotent: a redelivered event inserts nothing, and its session
 * change is not applied again (so a later EndSession RPC is not overwritten by an old disconnect).
 * Returns the new events' keys.
 *
 * Events without a session change (nearly all) are inserted many rows a statement; touching a device
 * again is harmless (it keeps the latest time), so it does not wait to learn which events are new.
 * A (dis)connect's log row is inserted alone, and its session change runs only if that row was new.
 */
export async function writeEvents(database: EventDatabase, batch: EventRows[]): Promise<Set<string>> {
  const { db } = database;
  const statements: BatchStatement[] = [];
  const logs: NewLog[] = [];
  const changes: EventRows[] = [];
  const devices = new Map<string, number>();
  for (const r of batch) {
    if (r.session) changes.push(r);
    else logs.push(r.log);
    if (r.deviceId) devices.set(r.deviceId, Math.max(devices.get(r.deviceId) ?? 0, r.time));
  }
  for (let i = 0; i < logs.length; i += INSERT_CHUNK) statements.push(insertLogs(db, logs.slice(i, i + INSERT_CHUNK)));
  // Sorted: concurrent transactions lock device rows, and then sessions, in one order.
  for (const [id, at] of [...devices].sort(([a], [b]) => (a < b ? -1 : 1)))
    statements.push(statement(touchDevice(db, id, at)));
  // By session id (stable, so one session's start stays before its end).
  changes.sort((a, b) =>
    (a.session?.id ?? "") < (b.session?.id ?? "") ? -1 : (a.session?.id ?? "") > (b.session?.id ?? "") ? 1 : 0,
  );
  for (const r of changes) {
    const c = r.session as SessionChange;
    statements.push(insertLogs(db, [r.log]));
    const change = statement(c.kind === "start" ? upsertStart(db, c) : upsertEnd(db, c));
    statements.push({ ...change, ifChanged: statements.length - 1 });
  }
  const results = await database.batch(statements);
  const fresh = new Set<string>();
  for (const r of results)
    for (const row of (r?.rows ?? []) as Array<{ dedup_key?: string | null }>)
      if (row.dedup_key) fresh.add(row.dedup_key);
  return fresh;
}
