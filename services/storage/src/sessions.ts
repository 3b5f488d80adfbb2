import { storage } from "@hotpin/contracts";
import { type Kysely, sql, type Transaction } from "kysely";
import type { Database, SessionsTable } from "./db/schema";
import { invalid, notFound, optionalId, requireId, requireMaxBytes } from "./errors";

const { SessionStatus } = storage;
type Db = Kysely<Database> | Transaction<Database>;

export interface SessionLimits {
  maxTextBytes: number;
  queryLimit: number;
}

export function toSession(row: SessionsTable): storage.Session {
  return {
    id: row.id,
    deviceId: row.device_id,
    dialect: row.dialect,
    startedAt: new Date(row.started_at),
    endedAt: row.ended_at === null ? undefined : new Date(row.ended_at),
    status: row.status,
    notes: row.notes,
    edgeInstance: row.edge_instance,
  };
}

/**
 * Records that a device was seen; the devices table answers "which devices exist" without scanning logs.
 * These three return the statement (to execute, or to compile into a batch: events/write-events.ts).
 */
export function touchDevice(db: Db, deviceId: string, at: number) {
  return db
    .insertInto("devices")
    .values({ id: deviceId, first_seen_at: at, last_seen_at: at })
    .onConflict((oc) =>
      oc.column("id").doUpdateSet({
        // Portable "greatest": events of one device may be written out of order.
        last_seen_at: sql<number>`case when excluded.last_seen_at > devices.last_seen_at then excluded.last_seen_at else devices.last_seen_at end`,
      }),
    );
}

/** Starts a session, or refreshes where it started when the start is reported again (idempotent). */
export function upsertStart(
  db: Db,
  s: { id: string; deviceId: string; dialect: string; edgeInstance: string; startedAt: number },
) {
  return db
    .insertInto("sessions")
    .values({
      id: s.id,
      device_id: s.deviceId,
      dialect: s.dialect,
      edge_instance: s.edgeInstance,
      started_at: s.startedAt,
      ended_at: null,
      status: SessionStatus.SESSION_STATUS_ACTIVE,
      notes: "",
    })
    .onConflict((oc) =>
      oc.column("id").doUpdateSet({ dialect: s.dialect, edge_instance: s.edgeInstance, started_at: s.startedAt }),
    );
}

/** Ends a session; an end seen before its start still creates the row, so nothing is lost to ordering. */
export function upsertEnd(
  db: Db,
  s: { id: string; deviceId: string; status: number; notes: string; endedAt: number; edgeInstance: string },
) {
  return db
    .insertInto("sessions")
    .values({
      id: s.id,
      device_id: s.deviceId,
      dialect: "",
      edge_instance: s.edgeInstance,
      started_at: s.endedAt,
      ended_at: s.endedAt,
      status: s.status,
      notes: s.notes,
    })
    .onConflict((oc) => oc.column("id").doUpdateSet({ ended_at: s.endedAt, status: s.status, notes: s.notes }));
}

export class Sessions {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly limits: SessionLimits,
  ) {}

  async start(req: storage.StartSessionRequest, now = Date.now()): Promise<storage.Session> {
    const id = requireId("id", req.id);
    const deviceId = requireId("device_id", req.deviceId);
    const dialect = requireMaxBytes("dialect", req.dialect, 64);
    const edgeInstance = requireMaxBytes("edge_instance", req.edgeInstance, 256);
    const startedAt = req.startedAt?.getTime() ?? now;
    await this.db.transaction().execute(async (tx) => {
      const existing = await tx.selectFrom("sessions").select("device_id").where("id", "=", id).executeTakeFirst();
      if (existing && existing.device_id !== deviceId) throw invalid("session id already belongs to another device");
      await upsertStart(tx, { id, deviceId, dialect, edgeInstance, startedAt }).execute();
      await touchDevice(tx, deviceId, startedAt).execute();
    });
    return this.get({ id });
  }

  async end(req: storage.EndSessionRequest, now = Date.now()): Promise<storage.Session> {
    const id = requireId("id", req.id);
    const notes = requireMaxBytes("notes", req.notes, this.limits.maxTextBytes);
    const status =
      req.status === SessionStatus.SESSION_STATUS_UNSPECIFIED ? SessionStatus.SESSION_STATUS_COMPLETED : req.status;
    if (!Object.values(SessionStatus).includes(status) || status === SessionStatus.UNRECOGNIZED) {
      throw invalid("unknown session status");
    }
    const endedAt = req.endedAt?.getTime() ?? now;
    const result = await this.db
      .updateTable("sessions")
      .set({ ended_at: endedAt, status, notes })
      .where("id", "=", id)
      .executeTakeFirst();
    if (result.numUpdatedRows === 0n) throw notFound("no such session");
    return this.get({ id });
  }

  async get(req: storage.GetSessionRequest): Promise<storage.Session> {
    const id = requireId("id", req.id);
    const row = await this.db.selectFrom("sessions").selectAll().where("id", "=", id).executeTakeFirst();
    if (!row) throw notFound("no such session");
    return toSession(row);
  }

  async list(req: storage.ListSessionsRequest): Promise<storage.ListSessionsResponse> {
    const deviceId = optionalId("device_id", req.deviceId);
    const limit = Math.min(req.limit || 100, this.limits.queryLimit);
    let q = this.db.selectFrom("sessions").selectAll();
    if (deviceId) q = q.where("device_id", "=", deviceId);
    if (req.since) q = q.where("started_at", ">=", req.since.getTime());
    if (req.until) q = q.where("started_at", "<", req.until.getTime());
    const rows = await q.orderBy("started_at", "desc").orderBy("id").limit(limit).execute();
    return { sessions: rows.map(toSession) };
  }
}
