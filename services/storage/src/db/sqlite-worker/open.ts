import SQLite from "better-sqlite3";

/** The one place the SQLite handle is opened and tuned (the worker; the bench's in-thread reference). */
export function openSqliteHandle(file: string, timeoutMs: number): SQLite.Database {
  const sqlite = new SQLite(file, { timeout: timeoutMs });
  // WAL: readers never block the writer; NORMAL sync is durable across process crashes (fsync at checkpoints).
  sqlite.pragma("journal_mode = WAL");
  sqlite.pragma("synchronous = NORMAL");
  sqlite.pragma("foreign_keys = ON");
  return sqlite;
}
