import { CompiledQuery, type Kysely } from "kysely";
import type { Database } from "./schema";

/**
 * One statement of a batch: compiled SQL and its parameters, and optionally the index of an earlier
 * statement of the same batch that must have changed (or returned) rows for this one to run.
 */
export interface BatchStatement {
  sql: string;
  parameters: readonly unknown[];
  ifChanged?: number;
}

/** What a statement did: the rows it returned and the rows it changed; undefined when it was skipped. */
export interface BatchResult {
  rows: unknown[];
  changes: number;
}

/**
 * Runs statements in order in one transaction and resolves with each one's result: all committed,
 * or the promise rejects and nothing was. On SQLite the whole batch is one message to the worker
 * thread (one hop, not one per statement, and the next batch can queue behind it); on PostgreSQL
 * they are all handed to the transaction's connection at once, but pg sends each only when the one
 * before has answered (it does not pipeline): a round trip a statement, plus begin and commit, and
 * none of those for a batch of one statement, which is atomic on its own.
 */
export type RunBatch = (statements: readonly BatchStatement[]) => Promise<Array<BatchResult | undefined>>;

/** A statement "changed rows": an INSERT … RETURNING reports the rows it returned. */
export const changedRows = (r: BatchResult | undefined): boolean => r !== undefined && r.changes > 0;

/** RunBatch through a Kysely transaction (PostgreSQL, and SQLite on the calling thread). */
export function kyselyBatch(db: Kysely<Database>): RunBatch {
  const run = async (on: Pick<Kysely<Database>, "executeQuery">, s: BatchStatement): Promise<BatchResult> => {
    const r = await on.executeQuery(CompiledQuery.raw(s.sql, [...s.parameters]));
    return { rows: r.rows as unknown[], changes: Math.max(Number(r.numAffectedRows ?? 0), r.rows.length) };
  };
  return async (statements) => {
    // One statement is atomic on its own: no begin and commit round trips around it.
    const [only] = statements;
    if (statements.length === 1 && only && only.ifChanged === undefined) return [await run(db, only)];
    return db.transaction().execute(async (tx) => {
      const results: Array<Promise<BatchResult | undefined>> = [];
      for (const s of statements) {
        const dependency = s.ifChanged === undefined ? undefined : results[s.ifChanged];
        if (s.ifChanged !== undefined && !dependency) throw new Error("ifChanged must name an earlier statement");
        results.push(dependency ? dependency.then((d) => (changedRows(d) ? run(tx, s) : undefined)) : run(tx, s));
      }
      // Every statement settles before the transaction ends (a rollback must come after all of them).
      const settled = await Promise.allSettled(results);
      const failed = settled.find((r) => r.status === "rejected");
      if (failed) throw (failed as PromiseRejectedResult).reason;
      return settled.map((r) => (r as PromiseFulfilledResult<BatchResult | undefined>).value);
    });
  };
}
