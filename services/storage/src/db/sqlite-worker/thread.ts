// Entry of the SQLite worker thread: owns the better-sqlite3 handle and runs statements one at a
// time, in the order they arrive, so no synchronous engine work runs on the main event loop.
import { parentPort, workerData } from "node:worker_threads";
import type SQLite from "better-sqlite3";
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

port.on("message", (req: Request) => {
  if (req.type === "close") {
    // Closing checkpoints the WAL; the thread then ends because nothing keeps its loop alive.
    db.close();
    port.close();
    return;
  }
  try {
    const stmt = prepare(req.sql);
    if (stmt.reader) {
      send({ type: "result", id: req.id, rows: stmt.all(req.parameters) });
    } else {
      const r = stmt.run(req.parameters);
      send({ type: "result", id: req.id, rows: [], changes: r.changes, lastInsertRowid: r.lastInsertRowid });
    }
  } catch (err) {
    // SQLite's code (SQLITE_CONSTRAINT_UNIQUE, SQLITE_BUSY, …) does not survive structured clone of an Error.
    send({ type: "error", id: req.id, message: (err as Error).message, code: (err as { code?: string }).code });
  }
});
send({ type: "ready" });
