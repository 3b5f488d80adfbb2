import type { Kysely } from "kysely";
import type { Database } from "../db/schema";
import type { NewLog } from "../logs";
import { touchDevice, upsertEnd, upsertStart } from "../sessions";
import type { EventRows } from "./to-rows";

/**
 * Writes a batch of events in one transaction. The log row's unique event key makes this
 * idempotent: a redelivered event inserts nothing, and its session change is not applied again
 * (so a later EndSession RPC is not overwritten by an old disconnect). Returns the new events' keys.
 */
export async function writeEvents(db: Kysely<Database>, batch: EventRows[]): Promise<Set<string>> {
  return db.transaction().execute(async (tx) => {
    const logs: NewLog[] = batch.map((r) => r.log);
    const fresh = new Set<string>();
    for (let i = 0; i < logs.length; i += 100) {
      const rows = await tx
        .insertInto("logs")
        .values(logs.slice(i, i + 100))
        .onConflict((oc) => oc.column("dedup_key").doNothing())
        .returning("dedup_key")
        .execute();
      for (const r of rows) if (r.dedup_key) fresh.add(r.dedup_key);
    }
    const devices = new Map<string, number>();
    for (const r of batch) {
      if (!r.log.dedup_key || !fresh.has(r.log.dedup_key)) continue;
      if (r.session?.kind === "start") await upsertStart(tx, r.session);
      else if (r.session?.kind === "end") await upsertEnd(tx, r.session);
      if (r.deviceId) devices.set(r.deviceId, Math.max(devices.get(r.deviceId) ?? 0, r.time));
    }
    for (const [id, at] of devices) await touchDevice(tx, id, at);
    return fresh;
  });
}
