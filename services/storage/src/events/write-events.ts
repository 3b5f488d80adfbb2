import type { Compilable } from "kysely";
import type { BatchStatement } from "../db/batch";
import type { OpenDatabase } from "../db/connect";
import type { NewLog } from "../logs";
import { touchDevice, upsertEnd, upsertStart } from "../sessions";
import type { EventRows, SessionChange } from "./to-rows";

/** The log columns, in the order of each row's array in the JSON parameter of LOG_INSERT (logsJson). */
const LOG_COLUMNS = ["time", "session_id", "device_id", "level", "message", "dedup_key", "event_type"] as const;

/**
 * One INSERT for any number of log rows, which travel as one JSON parameter (an array of arrays in
 * the order of LOG_COLUMNS) and are unpacked by the database. Against a many-row VALUES list, this
 * is one statement text whatever the batch size, one value to bind instead of seven a row (the pg
 * driver's per-parameter work was about half its CPU per event), and one string, not thousands of
 * values, to clone to the SQLite thread. Every text went through `storableText`, so the JSON is
 * always valid for both databases (no NUL, no lone surrogate). `where true`: SQLite's upsert after
 * a SELECT needs a WHERE clause to parse.
 */
const LOG_INSERT = {
  sqlite: `insert into logs (${LOG_COLUMNS.join(", ")})
    select value->>0, value->>1, value->>2, value->>3, value->>4, value->>5, value->>6 from json_each(?) where true
    on conflict (dedup_key) do nothing returning dedup_key`,
  postgres: `insert into logs (${LOG_COLUMNS.join(", ")})
    select (r->>0)::bigint, r->>1, r->>2, (r->>3)::integer, r->>4, r->>5, r->>6 from json_array_elements($1::json) as r
    on conflict (dedup_key) do nothing returning dedup_key`,
} as const satisfies Record<EventDatabase["dialect"], string>;

/**
 * PostgreSQL: the log rows ($1) and the devices to touch ($2, `[[id, time], …]`, sorted by id, so
 * concurrent batches lock device rows in one order) in one statement. A batch of events without
 * session changes is then one statement, so one round trip and one commit (pg does not pipeline:
 * begin, insert, touch, commit were four round trips in a row). A data-modifying WITH always runs.
 */
const LOG_INSERT_TOUCHING_DEVICES = `with touched as (
    insert into devices (id, first_seen_at, last_seen_at)
    select d->>0, (d->>1)::bigint, (d->>1)::bigint from json_array_elements($2::json) as d
    on conflict (id) do update set last_seen_at = greatest(devices.last_seen_at, excluded.last_seen_at))
  ${LOG_INSERT.postgres}`;

const logsJson = (rows: NewLog[]) =>
  JSON.stringify(
    rows.map((r) => [r.time, r.session_id, r.device_id, r.level, r.message, r.dedup_key ?? null, r.event_type ?? null]),
  );

function insertLogs(dialect: EventDatabase["dialect"], rows: NewLog[]): BatchStatement {
  return { sql: LOG_INSERT[dialect], parameters: [logsJson(rows)] };
}

/** The batch's log rows and the device touches, sorted by device id (see LOG_INSERT_TOUCHING_DEVICES). */
function insertLogsTouchingDevices(database: EventDatabase, rows: NewLog[], devices: Array<[string, number]>) {
  if (database.dialect === "postgres")
    return [{ sql: LOG_INSERT_TOUCHING_DEVICES, parameters: [logsJson(rows), JSON.stringify(devices)] }];
  const touches = devices.map(([id, at]) => statement(touchDevice(database.db, id, at)));
  return rows.length ? [insertLogs(database.dialect, rows), ...touches] : touches;
}

/** What writing events needs of the database: the query builder (to compile), batches and the dialect. */
export type EventDatabase = Pick<OpenDatabase, "db" | "batch" | "dialect">;

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
 * Events without a session change (nearly all) are inserted by one statement; touching a device
 * again is harmless (it keeps the latest time), so it does not wait to learn which events are new.
 * A (dis)connect's log row is inserted alone, and its session change runs only if that row was new.
 */
export async function writeEvents(database: EventDatabase, batch: EventRows[]): Promise<Set<string>> {
  const { db, dialect } = database;
  const statements: BatchStatement[] = [];
  const logs: NewLog[] = [];
  const changes: EventRows[] = [];
  const devices = new Map<string, number>();
  for (const r of batch) {
    if (r.session) changes.push(r);
    else logs.push(r.log);
    if (r.deviceId) devices.set(r.deviceId, Math.max(devices.get(r.deviceId) ?? 0, r.time));
  }
  // Sorted: concurrent transactions lock device rows, and then sessions, in one order.
  const touches = [...devices].sort(([a], [b]) => (a < b ? -1 : 1));
  if (logs.length || touches.length) statements.push(...insertLogsTouchingDevices(database, logs, touches));
  // By session id (stable, so one session's start stays before its end).
  changes.sort((a, b) =>
    (a.session?.id ?? "") < (b.session?.id ?? "") ? -1 : (a.session?.id ?? "") > (b.session?.id ?? "") ? 1 : 0,
  );
  for (const r of changes) {
    const c = r.session as SessionChange;
    statements.push(insertLogs(dialect, [r.log]));
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
