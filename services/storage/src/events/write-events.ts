import type { Kysely } from "kysely";
import type { Database } from "../db/schema";
import type { NewLog } from "../logs";
import { touchDevice, upsertEnd, upsertStart } from "../sessions";
import type { EventRows } from "./to-rows";

/** Log rows per INSERT statement: 7 parameters each stays far below SQLite's and PostgreSQL's bound-parameter limits. */
export const INSERT_CHUNK = 100;

/**
 * Writes a batch of events in one transaction. The log row's unique event key makes this
 * idempotent: a redelivered event inserts nothing, and its session change is not applied again
 * (so a later EndSession RPC is not overwritten by an old disconnect). Returns the new events' keys.
 *
 * The log inserts and the device touches are sent together (the connection runs them in order)
 * rather than one round trip after another: touching a device again is harmless (it keeps the
 * latest time), so it need not wait to learn which events are new. Only session changes do.
 */
export async function writeEvents(db: Kysely<Database>, batch: EventRows[]): Promise<Set<string>> {
  return db.transaction().execute(async (tx) => {
    const logs: NewLog[] = batch.map((r) => r.log);
    const devices = new Map<string, number>();
    for (const r of batch) if (r.deviceId) devices.set(r.deviceId, Math.max(devices.get(r.deviceId) ?? 0, r.time));
    const inserts: Promise<Array<{ dedup_key: string | null }>>[] = [];
    for (let i = 0; i < logs.length; i += INSERT_CHUNK) {
      inserts.push(
        tx
          .insertInto("logs")
          .values(logs.slice(i, i + INSERT_CHUNK))
          .onConflict((oc) => oc.column("dedup_key").doNothing())
          .returning("dedup_key")
          .execute(),
      );
    }
    // Sorted: concurrent transactions lock device rows in one order.
    const touches = [...devices].sort(([a], [b]) => (a < b ? -1 : 1)).map(([id, at]) => touchDevice(tx, id, at));
    // Every statement settles before the transaction ends (a rollback must come after all of them).
    const settled = await Promise.allSettled([...inserts, ...touches]);
    const failed = settled.find((s) => s.status === "rejected");
    if (failed) throw (failed as PromiseRejectedResult).reason;
    const fresh = new Set<string>();
    for (const s of settled.slice(0, inserts.length)) {
      const rows = (s as PromiseFulfilledResult<Array<{ dedup_key: string | null }>>).value;
      for (const r of rows) if (r.dedup_key) fresh.add(r.dedup_key);
    }
    const applied = new Set<string>();
    for (const r of batch) {
      const key = r.log.dedup_key;
      if (!r.session || !key || !fresh.has(key) || applied.has(key)) continue;
      applied.add(key);
      if (r.session.kind === "start") await upsertStart(tx, r.session);
      else await upsertEnd(tx, r.session);
    }
    return fresh;
  });
}
