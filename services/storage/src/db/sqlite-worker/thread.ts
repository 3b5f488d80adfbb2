// Entry of the SQLite worker thread: owns the better-sqlite3 handle and runs statements one at a
// time, in the order they arrive, so no synchronous engine work runs on the main event loop.
import { parentPort, workerData } from "node:worker_threads";
import type SQLite from "better-sqlite3";
import type { BatchResult, BatchStatement } from "../batch";
import { openSqliteHandle } from "./open";
import type { Request, Response, WorkerOptions } from "./protocol";

const port = parentPort;
if (!port) throw new Error("sqlite worker must run in a worker thread");
const send = (m: Response) => port.postMessage(m);
const opts = workerData as WorkerOptions;

let db: SQLite.Database;
try {
  db = openSqliteHandle(opts.file, opts.timeoutMs);
} catch (err) {
  send({ type: "open-failed", message: (err as Error).message, code: (err as { code?: string }).code });
  process.exit(1);
}
// Prepared statements are reused: the stores issue the same few shapes over and over.
const statements = new Map<string, SQLite.Statement>();
const MAX_STATEMENTS = 200;

function prepare(sql: string): SQLite.Statement {
  let stmt = statements.get(sql);
  if (!stmt) {
    stmt = db.prepare(sql);
    if (statements.size >= MAX_STATEMENTS) statements.delete(statements.keys().next().value as string);
    statements.set(sql, stmt);
  }
  return stmt;
}

/** One statement: its rows when it returns rows (SELECT, … RETURNING), otherwise what it changed. */
function run(
  sql: string,
  parameters: readonly unknown[],
): { rows: unknown[]; changes?: number; lastInsertRowid?: number | bigint } {
  const stmt = prepare(sql);
  if (stmt.reader) return { rows: stmt.all(parameters) };
  const r = stmt.run(parameters);
  return { rows: [], changes: r.changes, lastInsertRowid: r.lastInsertRowid };
}

// better-sqlite3's transaction: BEGIN, the function, COMMIT; ROLLBACK when it throws.
const runBatch = (statements: readonly BatchStatement[]) =>
  db.transaction(() => {
    const results: Array<BatchResult | null> = [];
    for (const s of statements) {
      const dependency = s.ifChanged === undefined ? undefined : results[s.ifChanged];
      if (s.ifChanged !== undefined && dependency === undefined)
        throw new Error("ifChanged must name an earlier statement");
      if (dependency === null || (dependency && dependency.changes === 0)) results.push(null);
      else {
        // A statement that returns rows counts them as what it changed (INSERT … RETURNING).
        const { rows, changes } = run(s.sql, s.parameters);
        results.push({ rows, changes: changes ?? rows.length });
      }
    }
    return results;
  })();

port.on("message", (req: Request) => {
  if (req.type === "close") {
    // Closing checkpoints the WAL; the thread then ends because nothing keeps its loop alive.
    db.close();
    port.close();
    return;
  }
  try {
    if (req.type === "batch") send({ type: "batch-result", id: req.id, results: runBatch(req.statements) });
    else send({ type: "result", id: req.id, ...run(req.sql, req.parameters) });
  } catch (err) {
    // SQLite's code (SQLITE_CONSTRAINT_UNIQUE, SQLITE_BUSY, …) does not survive structured clone of an Error.
    send({ type: "error", id: req.id, message: (err as Error).message, code: (err as { code?: string }).code });
  }
});
send({ type: "ready" });
