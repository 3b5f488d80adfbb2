import { storage } from "@hotpin/contracts";
import type { Insertable, Kysely, Selectable, Transaction } from "kysely";
import type { Database, LogsTable } from "./db/schema";
import { invalid, optionalId, requireMaxBytes } from "./errors";

const { LogLevel } = storage;
type Db = Kysely<Database> | Transaction<Database>;

export interface LogLimits {
  maxTextBytes: number;
  queryLimit: number;
}

export type NewLog = Insertable<LogsTable>;

/** Inserts log rows, skipping any whose dedup key is already stored; returns how many were new. */
export async function insertLogs(db: Db, rows: NewLog[]): Promise<number> {
  if (rows.length === 0) return 0;
  let inserted = 0;
  // Chunks keep each statement under SQLite's bound-parameter limit.
  for (let i = 0; i < rows.length; i += 100) {
    const result = await db
      .insertInto("logs")
      .values(rows.slice(i, i + 100))
      .onConflict((oc) => oc.column("dedup_key").doNothing())
      .returning("id")
      .execute();
    inserted += result.length;
  }
  return inserted;
}

function toEntry(row: Selectable<LogsTable>): storage.LogEntry {
  return {
    id: row.id,
    time: new Date(row.time),
    sessionId: row.session_id,
    deviceId: row.device_id,
    level: row.level,
    message: row.message,
  };
}

const LEVELS: number[] = [
  LogLevel.LOG_LEVEL_DEBUG,
  LogLevel.LOG_LEVEL_INFO,
  LogLevel.LOG_LEVEL_WARNING,
  LogLevel.LOG_LEVEL_ERROR,
];

export class Logs {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly limits: LogLimits,
  ) {}

  async append(req: storage.AppendLogRequest, now = Date.now()): Promise<storage.AppendLogResponse> {
    const e = req.entry;
    if (!e) throw invalid("entry is required");
    const sessionId = optionalId("session_id", e.sessionId);
    const deviceId = optionalId("device_id", e.deviceId);
    if (!sessionId && !deviceId) throw invalid("a log entry needs a session_id or a device_id");
    const level = e.level === LogLevel.LOG_LEVEL_UNSPECIFIED ? LogLevel.LOG_LEVEL_INFO : e.level;
    if (!LEVELS.includes(level)) throw invalid("unknown log level");
    const message = requireMaxBytes("message", e.message, this.limits.maxTextBytes);
    if (Buffer.byteLength(req.key) > 256) throw invalid("key is longer than 256 bytes");
    const dedupKey = req.key ? `key:${req.key}` : null;
    const row: NewLog = {
      time: e.time?.getTime() ?? now,
      session_id: sessionId,
      device_id: deviceId,
      level,
      message,
      dedup_key: dedupKey,
      event_type: null,
    };
    const inserted = await this.db
      .insertInto("logs")
      .values(row)
      .onConflict((oc) => oc.column("dedup_key").doNothing())
      .returning("id")
      .executeTakeFirst();
    if (inserted) return { id: inserted.id };
    // The key was used before: answer with the first append's id.
    const existing = await this.db
      .selectFrom("logs")
      .select("id")
      .where("dedup_key", "=", dedupKey)
      .executeTakeFirstOrThrow();
    return { id: existing.id };
  }

  async query(req: storage.QueryLogsRequest): Promise<storage.QueryLogsResponse> {
    const sessionId = optionalId("session_id", req.sessionId);
    const deviceId = optionalId("device_id", req.deviceId);
    const limit = Math.min(req.limit || 100, this.limits.queryLimit);
    let q = this.db.selectFrom("logs").selectAll();
    if (sessionId) q = q.where("session_id", "=", sessionId);
    if (deviceId) q = q.where("device_id", "=", deviceId);
    if (req.minLevel > LogLevel.LOG_LEVEL_UNSPECIFIED) q = q.where("level", ">=", req.minLevel);
    if (req.since) q = q.where("time", ">=", req.since.getTime());
    if (req.until) q = q.where("time", "<", req.until.getTime());
    const rows = await q.orderBy("time").orderBy("id").limit(limit).execute();
    return { entries: rows.map(toEntry) };
  }
}
