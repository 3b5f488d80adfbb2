import type { Logger } from "@hotpin/runtime";
import type { Kysely } from "kysely";
import type { Blobs } from "./blobs/blobs";
import type { Database } from "./db/schema";
import type { StorageMetrics } from "./metrics";

export interface RetentionOptions {
  logMaxAgeMs: number;
  sessionMaxAgeMs: number;
  conversationIdleMs: number;
  intervalMs: number;
}

/** Rows deleted per statement: long deletes would hold SQLite's write lock and stall the consumer. */
const CHUNK = 500;

export type RetentionCounts = Record<"blobs" | "tokens" | "logs" | "sessions" | "conversations", number>;

/**
 * Removes what has expired: blobs (bytes and rows), download tokens, conversations idle past
 * their TTL, and logs and sessions older than the configured ages. Every replica may run it;
 * each step is an idempotent delete.
 */
export class Retention {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly blobs: Blobs,
    private readonly opts: RetentionOptions,
    private readonly metrics: StorageMetrics,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      // One run at a time: a slow run is not stacked on by the next tick.
      this.running ??= this.runOnce()
        .then(
          () => this.metrics.retentionRuns.inc({ outcome: "ok" }),
          (err) => {
            this.metrics.retentionRuns.inc({ outcome: "failed" });
            this.log.warn({ err }, "retention run failed");
          },
        )
        .finally(() => {
          this.running = undefined;
        });
    }, this.opts.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  async runOnce(now = Date.now()): Promise<RetentionCounts> {
    const counts: RetentionCounts = { blobs: 0, tokens: 0, logs: 0, sessions: 0, conversations: 0 };
    counts.tokens = await this.chunked((limit) =>
      this.db
        .deleteFrom("download_tokens")
        .where("token_hash", "in", (eb) =>
          eb.selectFrom("download_tokens").select("token_hash").where("expires_at", "<=", now).limit(limit),
        )
        .executeTakeFirst(),
    );
    for (let n = CHUNK; n === CHUNK; ) {
      n = await this.blobs.deleteExpired(now, CHUNK);
      counts.blobs += n;
    }
    const idleBefore = now - this.opts.conversationIdleMs;
    counts.conversations = await this.chunked(async (limit) => {
      const expired = await this.db
        .selectFrom("conversations")
        .select("conversation_id")
        .where("last_active_at", "<", idleBefore)
        .limit(limit)
        .execute();
      if (expired.length === 0) return { numDeletedRows: 0n };
      const ids = expired.map((c) => c.conversation_id);
      return this.db.transaction().execute(async (tx) => {
        await tx.deleteFrom("turns").where("conversation_id", "in", ids).execute();
        return tx.deleteFrom("conversations").where("conversation_id", "in", ids).executeTakeFirst();
      });
    });
    const logsBefore = now - this.opts.logMaxAgeMs;
    counts.logs = await this.chunked((limit) =>
      this.db
        .deleteFrom("logs")
        .where("id", "in", (eb) => eb.selectFrom("logs").select("id").where("time", "<", logsBefore).limit(limit))
        .executeTakeFirst(),
    );
    const sessionsBefore = now - this.opts.sessionMaxAgeMs;
    counts.sessions = await this.chunked((limit) =>
      this.db
        .deleteFrom("sessions")
        .where("id", "in", (eb) =>
          eb.selectFrom("sessions").select("id").where("started_at", "<", sessionsBefore).limit(limit),
        )
        .executeTakeFirst(),
    );
    // Also counts what other replicas wrote since: the usage gauges converge every run.
    await this.blobs.refreshStored();
    for (const [kind, n] of Object.entries(counts)) if (n > 0) this.metrics.retentionDeleted.inc({ kind }, n);
    if (Object.values(counts).some((n) => n > 0)) this.log.info(counts, "retention removed expired data");
    return counts;
  }

  private async chunked(step: (limit: number) => Promise<{ numDeletedRows: bigint }>): Promise<number> {
    let total = 0;
    for (;;) {
      const n = Number((await step(CHUNK)).numDeletedRows);
      total += n;
      if (n < CHUNK) return total;
    }
  }
}
