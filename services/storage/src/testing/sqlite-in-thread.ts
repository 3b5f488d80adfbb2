import { join } from "node:path";
import { Kysely, SqliteDialect } from "kysely";
import { kyselyBatch } from "../db/batch";
import type { OpenDatabase } from "../db/connect";
import { migrate } from "../db/migrations";
import type { Database } from "../db/schema";
import { openSqliteHandle } from "../db/sqlite-worker/open";

/**
 * The previous setup, better-sqlite3 on the calling thread, kept only as the bench's "before"
 * reference for event-loop delay. The service always uses the worker (db/connect.ts).
 */
export async function openSqliteInThread(dataDir: string): Promise<OpenDatabase> {
  const file = join(dataDir, "storage.db");
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: openSqliteHandle(file, 5_000) }) });
  await migrate(db as Kysely<unknown>, "sqlite");
  return { db, batch: kyselyBatch(db), dialect: "sqlite", location: file, close: () => db.destroy() };
}
