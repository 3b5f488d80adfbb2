import { CompiledQuery, type Kysely, type Transaction } from "kysely";
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

function insertLogs(db: Kysely<Database>, tx: Transaction<Database>, rows: NewLog[]) {
  let byCount = compiledInserts.get(db);
  if (!byCount) {
    byCount = new Map();
    compiledInserts.set(db, byCount);
  }
  // Every value a parameter, none undefined (Kysely would write DEFAULT for that and the text would differ).
  const params: unknown[] = new Array(rows.length * LOG_COLUMNS.length);
  let k = 0;
  for (const r of rows) for (const c of LOG_COLUMNS) params[k++] = r[c] ?? null;
  let text = byCount.get(rows.length);
  if (!text) {
    const shaped = rows.map((r) => Object.fromEntries(LOG_COLUMNS.map((c) => [c, r[c] ?? null])) as NewLog);
    text = tx
      .insertInto("logs")
      .values(shaped)
      .onConflict((oc) => oc.column("dedup_key").doNothing())
      .returning("dedup_key")
      .compile().sql;
    byCount.set(rows.length, text);
  }
  return tx.executeQuery<{ dedup_key: string | null }>(CompiledQuery.raw(text, params));
}

/**
 * Writes a batch of events in one transaction. The log row's unique event key makes this
 * idempotent: a redelivered event inserts nothing, and its session change is not applied again
 * (so a later EndSession RPC is not overwritten by an old disconnect). Returns the new events' keys.
 *
 * The log inserts and the device touches are sent together (the connection runs them in order)
 * rather than one round trip after another: touching a device again is harmless (it keeps the
 * latest time), so it need not wait to learn which events are new. Only session changes do.
 */
export async function writeEvents(db: Kysely<Database>, batch: EventRows[]): Promise<Set<string>> {
  return db.transaction().execute(async (tx) => {
    const logs: NewLog[] = batch.map((r) => r.log);
    const devices = new Map<string, number>();
    for (const r of batch) if (r.deviceId) devices.set(r.deviceId, Math.max(devices.get(r.deviceId) ?? 0, r.time));
    const inserts: Promise<{ rows: Array<{ dedup_key: string | null }> }>[] = [];
    for (let i = 0; i < logs.length; i += INSERT_CHUNK)
      inserts.push(insertLogs(db, tx, logs.slice(i, i + INSERT_CHUNK)));
    // Sorted: concurrent transactions lock device rows in one order.
    const touches = [...devices].sort(([a], [b]) => (a < b ? -1 : 1)).map(([id, at]) => touchDevice(tx, id, at));
    // Every statement settles before the transaction ends (a rollback must come after all of them).
    const settled = await Promise.allSettled([...inserts, ...touches]);
    const failed = settled.find((s) => s.status === "rejected");
    if (failed) throw (failed as PromiseRejectedResult).reason;
    const fresh = new Set<string>();
    for (const s of settled.slice(0, inserts.length)) {
      const { rows } = (s as PromiseFulfilledResult<{ rows: Array<{ dedup_key: string | null }> }>).value;
      for (const r of rows) if (r.dedup_key) fresh.add(r.dedup_key);
    }
    const applied = new Set<string>();
    const changes: SessionChange[] = [];
    for (const r of batch) {
      const key = r.log.dedup_key;
      if (!r.session || !key || !fresh.has(key) || applied.has(key)) continue;
      applied.add(key);
      changes.push(r.session);
    }
    // By session id (stable, so one session's start stays before its end): concurrent batches lock sessions in one order.
    changes.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    for (const c of changes) {
      if (c.kind === "start") await upsertStart(tx, c);
      else await upsertEnd(tx, c);
    }
    return fresh;
  });
}
