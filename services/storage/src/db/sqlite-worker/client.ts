import { join } from "node:path";
import { Worker } from "node:worker_threads";
import SQLite from "better-sqlite3";
import type { BatchResult, BatchStatement } from "../batch";
import type { Request, Response, WorkerOptions } from "./protocol";

export interface WorkerResult {
  rows: unknown[];
  changes?: number;
  lastInsertRowid?: number | bigint;
}

/** A query's or a batch's answer. */
type Answer = Extract<Response, { type: "result" | "batch-result" }>;

interface Pending {
  resolve(r: Answer): void;
  reject(err: Error): void;
}

/** How the client reports a worker that died and the new one that replaced it. */
export interface WorkerHooks {
  onExit?(err: Error): void;
  onRestart?(): void;
}

const RESTART_FIRST_MS = 100;
const RESTART_MAX_MS = 5_000;

/**
 * The main thread's side of the SQLite worker: sends statements, matches answers to callers.
 * When the worker dies, every pending query rejects and a new worker is started on the same file
 * (with a growing delay while that fails); queries in between reject, so the health check fails
 * only for that long. A transaction begun on the dead worker never continues on the new one: its
 * generation has changed (see `generation`).
 */
export class SqliteWorker {
  #worker: Worker;
  readonly #pending = new Map<number, Pending>();
  #exited: Promise<void>;
  #nextId = 1;
  /** Set while the worker takes no queries: why (closed, failed, exited, restarting). */
  #unusable: Error | undefined;
  #closed = false;
  #generation = 0;

  private constructor(
    worker: Worker,
    private readonly opts: WorkerOptions,
    private readonly hooks: WorkerHooks,
  ) {
    this.#worker = worker;
    this.#exited = this.#attach(worker);
  }

  /** Starts the worker and waits until the database is open (so a bad file fails start-up). */
  static async open(opts: WorkerOptions, hooks: WorkerHooks = {}): Promise<SqliteWorker> {
    return new SqliteWorker(await spawn(opts), opts, hooks);
  }

  /** Counts worker threads: a connection compares it to learn that its transaction's thread is gone. */
  get generation(): number {
    return this.#generation;
  }

  #attach(worker: Worker): Promise<void> {
    // Idle, the thread must not keep the process alive (a synchronous handle never did); queries in flight do.
    worker.unref();
    worker.on("message", (m: Response) => this.#onMessage(m));
    worker.on("error", (err) => this.#fail(new Error("sqlite worker failed", { cause: err })));
    worker.on("messageerror", (err) => this.#fail(new Error("sqlite worker message failed", { cause: err })));
    return new Promise((resolve) =>
      worker.once("exit", (code) => {
        const why = new Error(`sqlite worker exited (code ${code})`);
        this.#fail(why);
        resolve();
        if (!this.#closed) {
          this.#generation++;
          this.hooks.onExit?.(why);
          void this.#restart();
        }
      }),
    );
  }

  async #restart(): Promise<void> {
    for (let delay = RESTART_FIRST_MS; !this.#closed; delay = Math.min(delay * 2, RESTART_MAX_MS)) {
      await new Promise((r) => setTimeout(r, delay).unref());
      if (this.#closed) return;
      try {
        const worker = await spawn(this.opts);
        if (this.#closed) {
          await worker.terminate();
          return;
        }
        this.#worker = worker;
        this.#exited = this.#attach(worker);
        this.#unusable = undefined;
        this.hooks.onRestart?.();
        return;
      } catch (err) {
        this.#unusable = new Error("sqlite worker restart failed", { cause: err });
      }
    }
  }

  query(sql: string, parameters: readonly unknown[]): Promise<WorkerResult> {
    return this.#request((id) => ({ type: "query", id, sql, parameters })) as Promise<WorkerResult>;
  }

  /** Statements in one transaction in the thread, one message each way (db/batch.ts). */
  async batch(statements: readonly BatchStatement[]): Promise<Array<BatchResult | undefined>> {
    const r = (await this.#request((id) => ({ type: "batch", id, statements }))) as {
      results: Array<BatchResult | null>;
    };
    return r.results.map((x) => x ?? undefined);
  }

  #request(make: (id: number) => Request): Promise<Answer> {
    if (this.#unusable) return Promise.reject(this.#unusable);
    const id = this.#nextId++;
    return new Promise<Answer>((resolve, reject) => {
      try {
        this.#post(make(id));
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
    if (!this.#closed) {
      this.#closed = true;
      if (!this.#unusable) {
        this.#unusable = new Error("sqlite worker closed");
        this.#post({ type: "close" });
        this.#worker.ref();
      } else this.#unusable = new Error("sqlite worker closed");
    }
    await this.#exited;
  }

  /** Ends the thread at once, without closing the database cleanly (what a crash looks like). */
  async terminate(): Promise<void> {
    const exited = this.#exited;
    await this.#worker.terminate();
    await exited;
  }

  #post(m: Request): void {
    this.#worker.postMessage(m);
  }

  #onMessage(m: Response): void {
    if (m.type !== "result" && m.type !== "batch-result" && m.type !== "error") return;
    const p = this.#pending.get(m.id);
    if (!p) return;
    this.#pending.delete(m.id);
    if (this.#pending.size === 0 && !this.#unusable) this.#worker.unref();
    if (m.type !== "error") p.resolve(m);
    else p.reject(sqliteError(m.message, m.code));
  }

  #fail(why: Error): void {
    this.#unusable ??= why;
    for (const p of this.#pending.values()) p.reject(why);
    this.#pending.clear();
  }
}

async function spawn(opts: WorkerOptions): Promise<Worker> {
  const worker = new Worker(join(__dirname, "thread.js"), {
    workerData: opts,
    // Not the parent's --require hooks (telemetry SDK): the thread runs SQLite only.
    execArgv: process.execArgv.includes("--enable-source-maps") ? ["--enable-source-maps"] : [],
  });
  await whenOpen(worker);
  return worker;
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
