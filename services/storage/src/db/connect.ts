import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Logger } from "@hotpin/runtime";
import { Kysely, PostgresDialect, sql } from "kysely";
import pg from "pg";
import { kyselyBatch, type RunBatch } from "./batch";
import { type DialectName, migrate } from "./migrations";
import type { Database } from "./schema";
import { SqliteWorker } from "./sqlite-worker/client";
import { SqliteWorkerDialect } from "./sqlite-worker/dialect";

export interface DatabaseOptions {
  /** Empty: SQLite under dataDir; postgres://…: PostgreSQL. */
  url: string;
  dataDir: string;
  /** PostgreSQL only: tables live in this schema (created if missing). */
  schema?: string;
  poolSize?: number;
  /** Told when the SQLite worker dies and when its replacement is ready. */
  log?: Logger;
}

export interface OpenDatabase {
  db: Kysely<Database>;
  /** Statements in one transaction, with as few round trips as the backend allows (db/batch.ts). */
  batch: RunBatch;
  dialect: DialectName;
  /** Where the data is, without credentials: for logs. */
  location: string;
  close(): Promise<void>;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** Opens the configured database and migrates it to the newest schema version. */
export async function openDatabase(opts: DatabaseOptions): Promise<OpenDatabase> {
  const open = opts.url === "" ? await openSqlite(opts.dataDir, opts.log) : await openPostgres(opts);
  try {
    await migrate(open.db as Kysely<unknown>, open.dialect);
  } catch (err) {
    await open.close();
    throw err;
  }
  return open;
}

/** SQLite runs in a worker thread: better-sqlite3 is synchronous and must not stall the RPC event loop. */
async function openSqlite(dataDir: string, log?: Logger): Promise<OpenDatabase> {
  const dir = resolve(dataDir);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, "storage.db");
  const worker = await SqliteWorker.open(
    { file, timeoutMs: 5_000 },
    {
      onExit: (err) => log?.error({ err }, "sqlite worker died, restarting it"),
      onRestart: () => log?.info("sqlite worker restarted"),
    },
  );
  const dialect = new SqliteWorkerDialect(worker);
  const db = new Kysely<Database>({ dialect });
  return { db, batch: dialect.batch, dialect: "sqlite", location: file, close: () => db.destroy() };
}

async function openPostgres(opts: DatabaseOptions): Promise<OpenDatabase> {
  const url = new URL(opts.url);
  if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") {
    throw new Error(`unsupported database URL scheme ${url.protocol} (want postgres://)`);
  }
  const schema = opts.schema ?? "";
  if (schema && !SCHEMA_NAME.test(schema)) throw new Error("database schema must be a lower-case SQL identifier");
  const pool = new pg.Pool({
    connectionString: opts.url,
    max: opts.poolSize ?? 10,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    ...(schema ? { options: `-c search_path=${schema}` } : {}),
    // int8 as JS numbers: ids and epoch milliseconds stay far below 2^53.
    types: {
      getTypeParser: ((oid: number, format?: "text" | "binary") =>
        oid === 20 ? Number : pg.types.getTypeParser(oid, format as "text")) as typeof pg.types.getTypeParser,
    },
  });
  // A dropped connection in the pool must not crash the process; the next query reconnects.
  pool.on("error", () => {});
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  if (schema) await sql`create schema if not exists ${sql.id(schema)}`.execute(db);
  const location = `postgres://${url.hostname}:${url.port || 5432}${url.pathname}${schema ? `#${schema}` : ""}`;
  return { db, batch: kyselyBatch(db), dialect: "postgres", location, close: () => db.destroy() };
}

/** For the health check: a round trip to the database. */
export async function pingDatabase(db: Kysely<Database>): Promise<void> {
  await sql`select 1`.execute(db);
}
