// Messages between the main thread and the SQLite worker thread (structured clone).

export interface WorkerOptions {
  file: string;
  /** busy_timeout: how long a statement waits for another connection's lock. */
  timeoutMs: number;
}

export type Request = { type: "query"; id: number; sql: string; parameters: readonly unknown[] } | { type: "close" };

export type Response =
  | { type: "ready" }
  | { type: "result"; id: number; rows: unknown[]; changes?: number; lastInsertRowid?: number | bigint }
  | { type: "error"; id: number; message: string; code?: string }
  /** Opening the database failed: the worker exits after sending this. */
  | { type: "open-failed"; message: string; code?: string };
