import type { BatchResult, BatchStatement } from "../batch";

// Messages between the main thread and the SQLite worker thread (structured clone).

export interface WorkerOptions {
  file: string;
  /** busy_timeout: how long a statement waits for another connection's lock. */
  timeoutMs: number;
}

export type Request =
  | { type: "query"; id: number; sql: string; parameters: readonly unknown[] }
  /** Statements run in order in one transaction (db/batch.ts); a failing one rolls all back. */
  | { type: "batch"; id: number; statements: readonly BatchStatement[] }
  | { type: "close" };

export type Response =
  | { type: "ready" }
  | { type: "result"; id: number; rows: unknown[]; changes?: number; lastInsertRowid?: number | bigint }
  /** A batch's results, one per statement; null for a statement skipped by its `ifChanged`. */
  | { type: "batch-result"; id: number; results: Array<BatchResult | null> }
  | { type: "error"; id: number; message: string; code?: string }
  /** Opening the database failed: the worker exits after sending this. */
  | { type: "open-failed"; message: string; code?: string };
