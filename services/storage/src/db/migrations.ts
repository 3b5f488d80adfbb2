import { type Kysely, type Migration, type MigrationProvider, Migrator, sql } from "kysely";

export type DialectName = "sqlite" | "postgres";

/**
 * Versioned migrations, in code so they ship inside dist. Never edit one that has shipped;
 * add the next. Column types differ only where the dialects do (auto-increment ids, 64-bit ints).
 */
function migrations(dialect: DialectName): Record<string, Migration> {
  const big = dialect === "postgres" ? "bigint" : "integer";
  const serial = (db: Kysely<unknown>, table: string) =>
    dialect === "postgres"
      ? db.schema.createTable(table).addColumn("id", "bigserial", (c) => c.primaryKey())
      : db.schema.createTable(table).addColumn("id", "integer", (c) => c.primaryKey().autoIncrement());
  return {
    "0001_initial": {
      async up(db) {
        await db.schema
          .createTable("devices")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("first_seen_at", big, (c) => c.notNull())
          .addColumn("last_seen_at", big, (c) => c.notNull())
          .execute();
        await db.schema
          .createTable("sessions")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("device_id", "text", (c) => c.notNull())
          .addColumn("dialect", "text", (c) => c.notNull().defaultTo(""))
          .addColumn("edge_instance", "text", (c) => c.notNull().defaultTo(""))
          .addColumn("started_at", big, (c) => c.notNull())
          .addColumn("ended_at", big)
          .addColumn("status", "integer", (c) => c.notNull())
          .addColumn("notes", "text", (c) => c.notNull().defaultTo(""))
          .execute();
        await db.schema
          .createIndex("sessions_device_started")
          .on("sessions")
          .columns(["device_id", "started_at"])
          .execute();
        await db.schema.createIndex("sessions_started").on("sessions").column("started_at").execute();
        // No foreign key to sessions: events can arrive out of order and a log must never be refused.
        await serial(db, "logs")
          .addColumn("time", big, (c) => c.notNull())
          .addColumn("session_id", "text", (c) => c.notNull())
          .addColumn("device_id", "text", (c) => c.notNull())
          .addColumn("level", "integer", (c) => c.notNull())
          .addColumn("message", "text", (c) => c.notNull())
          .addColumn("dedup_key", "text", (c) => c.unique())
          .addColumn("event_type", "text")
          .execute();
        await db.schema.createIndex("logs_session").on("logs").columns(["session_id", "time"]).execute();
        await db.schema.createIndex("logs_device").on("logs").columns(["device_id", "time"]).execute();
        await db.schema.createIndex("logs_time").on("logs").column("time").execute();
        await db.schema
          .createTable("conversations")
          .addColumn("device_id", "text", (c) => c.primaryKey())
          .addColumn("conversation_id", "text", (c) => c.notNull())
          .addColumn("started_at", big, (c) => c.notNull())
          .addColumn("last_active_at", big, (c) => c.notNull())
          .execute();
        await db.schema.createIndex("conversations_active").on("conversations").column("last_active_at").execute();
        await serial(db, "turns")
          .addColumn("conversation_id", "text", (c) => c.notNull())
          .addColumn("device_id", "text", (c) => c.notNull())
          .addColumn("session_id", "text", (c) => c.notNull())
          .addColumn("role", "integer", (c) => c.notNull())
          .addColumn("text", "text", (c) => c.notNull())
          .addColumn("time", big, (c) => c.notNull())
          .addColumn("had_image", "integer", (c) => c.notNull())
          .execute();
        await db.schema.createIndex("turns_conversation").on("turns").columns(["conversation_id", "id"]).execute();
        await db.schema
          .createTable("blobs")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("device_id", "text", (c) => c.notNull())
          .addColumn("session_id", "text", (c) => c.notNull())
          .addColumn("kind", "text", (c) => c.notNull())
          .addColumn("content_type", "text", (c) => c.notNull())
          .addColumn("size_bytes", big, (c) => c.notNull())
          .addColumn("sha256", "text", (c) => c.notNull())
          .addColumn("created_at", big, (c) => c.notNull())
          .addColumn("expires_at", big, (c) => c.notNull())
          .addColumn("ready", "integer", (c) => c.notNull())
          .execute();
        await db.schema.createIndex("blobs_device").on("blobs").columns(["device_id", "expires_at"]).execute();
        await db.schema.createIndex("blobs_expires").on("blobs").column("expires_at").execute();
        await db.schema
          .createTable("download_tokens")
          .addColumn("token_hash", "text", (c) => c.primaryKey())
          .addColumn("blob_id", "text", (c) => c.notNull())
          .addColumn("created_at", big, (c) => c.notNull())
          .addColumn("expires_at", big, (c) => c.notNull())
          .execute();
        await db.schema.createIndex("download_tokens_expires").on("download_tokens").column("expires_at").execute();
        await db.schema.createIndex("download_tokens_blob").on("download_tokens").column("blob_id").execute();
      },
      async down(db) {
        for (const t of ["download_tokens", "blobs", "turns", "conversations", "logs", "sessions", "devices"]) {
          await sql`drop table if exists ${sql.table(t)}`.execute(db);
        }
      },
    },
    "0002_turn_interrupted": {
      // An assistant turn the user cut off (barge-in) is kept, and marked.
      async up(db) {
        await db.schema
          .alterTable("turns")
          .addColumn("interrupted", "integer", (c) => c.notNull().defaultTo(0))
          .execute();
      },
      async down(db) {
        await db.schema.alterTable("turns").dropColumn("interrupted").execute();
      },
    },
  };
}

/** Brings the schema to the newest version; concurrent replicas are serialised by Kysely's migration lock. */
export async function migrate(db: Kysely<unknown>, dialect: DialectName): Promise<string[]> {
  const provider: MigrationProvider = { getMigrations: async () => migrations(dialect) };
  const { error, results } = await new Migrator({ db, provider }).migrateToLatest();
  if (error) throw new Error("database migration failed", { cause: error });
  return (results ?? []).filter((r) => r.status === "Success").map((r) => r.migrationName);
}
