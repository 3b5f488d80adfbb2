import { randomUUID } from "node:crypto";
import { storage } from "@hotpin/contracts";
import type { Kysely, Selectable } from "kysely";
import type { Database, TurnsTable } from "./db/schema";
import { invalid, optionalId, requireId, requireMaxBytes } from "./errors";

const { TurnRole } = storage;

export interface ConversationLimits {
  idleTtlMs: number;
  historyLimit: number;
  maxTurns: number;
  maxTextBytes: number;
}

function toTurn(row: Selectable<TurnsTable>): storage.ConversationTurn {
  return {
    deviceId: row.device_id,
    sessionId: row.session_id,
    role: row.role,
    text: row.text,
    time: new Date(row.time),
    hadImage: row.had_image === 1,
    interrupted: row.interrupted === 1,
  };
}

/**
 * One conversation per device, kept in the database so that it continues across reconnects and
 * edge replicas; it expires after an idle time (no new turn), and a turn after that starts a new one.
 */
export class Conversations {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly limits: ConversationLimits,
  ) {}

  async append(req: storage.AppendTurnRequest, now = Date.now()): Promise<void> {
    const t = req.turn;
    if (!t) throw invalid("turn is required");
    const deviceId = requireId("device_id", t.deviceId);
    const sessionId = optionalId("session_id", t.sessionId);
    if (t.role !== TurnRole.TURN_ROLE_USER && t.role !== TurnRole.TURN_ROLE_ASSISTANT) {
      throw invalid("role must be user or assistant");
    }
    const text = requireMaxBytes("text", t.text, this.limits.maxTextBytes);
    const time = t.time?.getTime() ?? now;
    await this.db.transaction().execute(async (tx) => {
      const current = await tx
        .selectFrom("conversations")
        .selectAll()
        .where("device_id", "=", deviceId)
        .executeTakeFirst();
      let conversationId = current?.conversation_id;
      if (!current || now - current.last_active_at > this.limits.idleTtlMs) {
        if (current) await tx.deleteFrom("turns").where("conversation_id", "=", current.conversation_id).execute();
        conversationId = randomUUID();
        await tx
          .insertInto("conversations")
          .values({ device_id: deviceId, conversation_id: conversationId, started_at: now, last_active_at: now })
          .onConflict((oc) =>
            oc
              .column("device_id")
              .doUpdateSet({ conversation_id: conversationId, started_at: now, last_active_at: now }),
          )
          .execute();
      } else {
        await tx.updateTable("conversations").set({ last_active_at: now }).where("device_id", "=", deviceId).execute();
      }
      const id = conversationId as string;
      await tx
        .insertInto("turns")
        .values({
          conversation_id: id,
          device_id: deviceId,
          session_id: sessionId,
          role: t.role,
          text,
          time,
          had_image: t.hadImage ? 1 : 0,
          interrupted: t.interrupted ? 1 : 0,
        })
        .execute();
      // Bound the history: drop the oldest turns beyond the cap.
      const cutoff = await tx
        .selectFrom("turns")
        .select("id")
        .where("conversation_id", "=", id)
        .orderBy("id", "desc")
        .offset(this.limits.maxTurns)
        .limit(1)
        .executeTakeFirst();
      if (cutoff) {
        await tx.deleteFrom("turns").where("conversation_id", "=", id).where("id", "<=", cutoff.id).execute();
      }
    });
  }

  /** The most recent turns, oldest first; empty when the conversation expired. */
  async recent(req: storage.RecentTurnsRequest, now = Date.now()): Promise<storage.RecentTurnsResponse> {
    const deviceId = requireId("device_id", req.deviceId);
    const limit = Math.min(req.limit || this.limits.historyLimit, this.limits.maxTurns);
    const current = await this.db
      .selectFrom("conversations")
      .selectAll()
      .where("device_id", "=", deviceId)
      .executeTakeFirst();
    if (!current || now - current.last_active_at > this.limits.idleTtlMs) return { turns: [] };
    const rows = await this.db
      .selectFrom("turns")
      .selectAll()
      .where("conversation_id", "=", current.conversation_id)
      .orderBy("id", "desc")
      .limit(limit)
      .execute();
    return { turns: rows.reverse().map(toTurn) };
  }

  async clear(req: storage.ClearConversationRequest): Promise<void> {
    const deviceId = requireId("device_id", req.deviceId);
    await this.db.transaction().execute(async (tx) => {
      await tx.deleteFrom("turns").where("device_id", "=", deviceId).execute();
      await tx.deleteFrom("conversations").where("device_id", "=", deviceId).execute();
    });
  }
}
