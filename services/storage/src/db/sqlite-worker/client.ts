import { join } from "node:path";
import { Worker } from "node:worker_threads";
import SQLite from "better-sqlite3";
import type { Request, Response, WorkerOptions } from "./protocol";

export interface WorkerResult {
  rows: unknown[];
  changes?: number;
  lastInsertRowid?: number | bigint;
}

interface Pending {
  resolve(r: WorkerResult): void;
  reject(err: Error): void;
}

/**
 * The main thread's side of the SQLite worker: sends statements, matches answers to callers.
 * When the worker dies, every pending and later query rejects (so the health check fails).
 */
export class SqliteWorker {
  readonly #worker: Worker;
  readonly #pending = new Map<number, Pending>();
  readonly #exited: Promise<void>;
  #nextId = 1;
  /** Set once the worker takes no more queries: why (closed, failed, exited). */
  #unusable: Error | undefined;

  private constructor(worker: Worker) {
    this.#worker = worker;
    // Idle, the thread must not keep the process alive (a synchronous handle never did); queries in flight do.
    worker.unref();
    worker.on("message", (m: Response) => this.#onMessage(m));
    worker.on("error", (err) => this.#fail(new Error("sqlite worker failed", { cause: err })));
    worker.on("messageerror", (err) => this.#fail(new Error("sqlite worker message failed", { cause: err })));
    this.#exited = new Promise((resolve) =>
      worker.once("exit", (code) => {
        this.#fail(new Error(`sqlite worker exited (code ${code})`));
        resolve();
      }),
    );
  }

  /** Starts the worker and waits until the database is open (so a bad file fails start-up). */
  static async open(opts: WorkerOptions): Promise<SqliteWorker> {
    const worker = new Worker(join(__dirname, "thread.js"), {
      workerData: opts,
      // Not the parent's --require hooks (telemetry SDK): the thread runs SQLite only.
      execArgv: process.execArgv.includes("--enable-source-maps") ? ["--enable-source-maps"] : [],
    });
    await whenOpen(worker);
    return new SqliteWorker(worker);
  }

  query(sql: string, parameters: readonly unknown[]): Promise<WorkerResult> {
    if (this.#unusable) return Promise.reject(this.#unusable);
    const id = this.#nextId++;
    return new Promise<WorkerResult>((resolve, reject) => {
      try {
        this.#post({ type: "query", id, sql, parameters });
      } catch (err) {
        reject(err); // a parameter structured clone cannot copy
        return;
      }
      if (this.#pending.size === 0) this.#worker.ref();
      this.#pending.set(id, { resolve, reject });
    });
  }

  /** Undefined while usable; otherwise why not. */
  get unusable(): Error | undefined {
    return this.#unusable;
  }

  /** Closes the database in the worker (after the queries already sent) and waits for the thread to end. */
  async close(): Promise<void> {
    if (!this.#unusable) {
      this.#unusable = new Error("sqlite worker closed");
      this.#post({ type: "close" });
      this.#worker.ref();
    }
    await this.#exited;
  }

  /** Ends the thread at once, without closing the database cleanly (what a crash looks like). */
  async terminate(): Promise<void> {
    await this.#worker.terminate();
    await this.#exited;
  }

  #post(m: Request): void {
    this.#worker.postMessage(m);
  }

  #onMessage(m: Response): void {
    if (m.type !== "result" && m.type !== "error") return;
    const p = this.#pending.get(m.id);
    if (!p) return;
    this.#pending.delete(m.id);
    if (this.#pending.size === 0 && !this.#unusable) this.#worker.unref();
    if (m.type === "result") p.resolve(m);
    else p.reject(sqliteError(m.message, m.code));
  }

  #fail(why: Error): void {
    this.#unusable ??= why;
    for (const p of this.#pending.values()) p.reject(why);
    this.#pending.clear();
  }
}

/** Resolves on the worker's "ready"; rejects if opening fails or the thread dies first. */
async function whenOpen(worker: Worker): Promise<void> {
  // biome-ignore lint/suspicious/noExplicitAny: EventEmitter listener signature
  const listeners: Array<[string, (...args: any[]) => void]> = [];
  try {
    await new Promise<void>((resolve, reject) => {
      listeners.push(
        [
          "message",
          (m: Response) =>
            m.type === "ready" ? resolve() : m.type === "open-failed" && reject(sqliteError(m.message, m.code)),
        ],
        ["error", reject],
        ["exit", (code: number) => reject(new Error(`sqlite worker exited (code ${code}) while opening`))],
      );
      for (const [event, fn] of listeners) worker.on(event, fn);
    });
  } finally {
    // Only our own listeners: Worker keeps internal ones (port referencing) on the same emitter.
    for (const [event, fn] of listeners) worker.off(event, fn);
  }
}

/** better-sqlite3's own error class, so callers can test `code` (e.g. SQLITE_CONSTRAINT_UNIQUE) as before. */
function sqliteError(message: string, code: string | undefined): Error {
  return code ? new SQLite.SqliteError(message, code) : new Error(message);
}
