import {
  CompiledQuery,
  type DatabaseConnection,
  type DatabaseIntrospector,
  type Dialect,
  type Driver,
  type Kysely,
  type QueryCompiler,
  type QueryResult,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
} from "kysely";
import type { BatchResult, BatchStatement, RunBatch } from "../batch";
import type { SqliteWorker } from "./client";

/** Kysely's SQLite dialect with the engine in a worker thread: same SQL, same types, async for real. */
export class SqliteWorkerDialect implements Dialect {
  readonly #driver: SqliteWorkerDriver;
  constructor(worker: SqliteWorker) {
    this.#driver = new SqliteWorkerDriver(worker);
  }
  createDriver(): Driver {
    return this.#driver;
  }
  /** RunBatch on the worker, in turn with Kysely's own queries and transactions (see the driver). */
  readonly batch: RunBatch = (statements) => this.#driver.batch(statements);
  createQueryCompiler(): QueryCompiler {
    return new SqliteQueryCompiler();
  }
  createAdapter() {
    return new SqliteAdapter();
  }
  createIntrospector(db: Kysely<unknown>): DatabaseIntrospector {
    return new SqliteIntrospector(db);
  }
}

/**
 * One connection (the worker's handle). As in Kysely's SqliteDriver, a mutex hands it to one
 * user at a time, so a transaction's statements never interleave with anyone else's.
 */
class SqliteWorkerDriver implements Driver {
  readonly #connection: SqliteWorkerConnection;
  #held: Promise<void> | undefined;
  #release: (() => void) | undefined;

  constructor(private readonly worker: SqliteWorker) {
    this.#connection = new SqliteWorkerConnection(worker);
  }

  async init(): Promise<void> {}

  /**
   * A batch is one message and runs whole in the thread, so it only has to be posted while no Kysely
   * transaction holds the connection (or it would run inside that one); it need not hold the
   * connection while it runs, so batches queue behind each other in the thread.
   */
  async batch(statements: readonly BatchStatement[]): Promise<Array<BatchResult | undefined>> {
    while (this.#held) await this.#held;
    return this.worker.batch(statements);
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    while (this.#held) await this.#held;
    this.#held = new Promise((resolve) => {
      this.#release = resolve;
    });
    return this.#connection;
  }

  async releaseConnection(): Promise<void> {
    const release = this.#release;
    this.#held = undefined;
    this.#release = undefined;
    release?.();
  }

  async beginTransaction(c: DatabaseConnection): Promise<void> {
    (c as SqliteWorkerConnection).transactionGeneration = this.worker.generation;
    await c.executeQuery(CompiledQuery.raw("begin"));
  }
  async commitTransaction(c: DatabaseConnection): Promise<void> {
    try {
      await c.executeQuery(CompiledQuery.raw("commit"));
    } finally {
      (c as SqliteWorkerConnection).transactionGeneration = undefined;
    }
  }
  async rollbackTransaction(c: DatabaseConnection): Promise<void> {
    const conn = c as SqliteWorkerConnection;
    // The dead worker's transaction died with it: nothing to roll back on the new one.
    if (conn.transactionGeneration !== this.worker.generation) {
      conn.transactionGeneration = undefined;
      return;
    }
    try {
      await c.executeQuery(CompiledQuery.raw("rollback"));
    } finally {
      conn.transactionGeneration = undefined;
    }
  }

  /** Waits for whoever holds the connection (a transaction in hand commits), then closes. */
  async destroy(): Promise<void> {
    if (!this.worker.unusable) await this.acquireConnection();
    await this.worker.close();
    await this.releaseConnection();
  }
}

class SqliteWorkerConnection implements DatabaseConnection {
  /** The worker generation a transaction began on; undefined outside a transaction. */
  transactionGeneration: number | undefined;

  constructor(private readonly worker: SqliteWorker) {}

  async executeQuery<R>(q: CompiledQuery): Promise<QueryResult<R>> {
    // A restarted worker is in autocommit: the rest of a transaction begun on the dead one must not run there.
    if (this.transactionGeneration !== undefined && this.transactionGeneration !== this.worker.generation)
      throw new Error("sqlite worker restarted during the transaction");
    const r = await this.worker.query(q.sql, q.parameters);
    return {
      rows: r.rows as R[],
      ...(r.changes === undefined ? {} : { numAffectedRows: BigInt(r.changes) }),
      ...(r.lastInsertRowid === undefined ? {} : { insertId: BigInt(r.lastInsertRowid) }),
    };
  }

  /** Buffered: the whole result crosses the thread boundary at once (every query here is capped). */
  async *streamQuery<R>(q: CompiledQuery, chunkSize = 100): AsyncIterableIterator<QueryResult<R>> {
    const { rows } = await this.executeQuery<R>(q);
    for (let i = 0; i < rows.length; i += chunkSize) yield { rows: rows.slice(i, i + chunkSize) };
  }
}
