import { int, oneOf, readConfig, runtimeSettings, str } from "@hotpin/runtime";

/** Every setting of the storage service; the README lists them with their defaults. */
export const storageSettings = {
  ...runtimeSettings("storage", { port: 50054, metricsPort: 9468 }),
  databaseUrl: str(
    "HOTPIN_STORAGE_DATABASE_URL",
    "",
    "empty: embedded SQLite under the data dir; postgres://user@host:port/db: PostgreSQL",
  ),
  databaseSchema: str(
    "HOTPIN_STORAGE_DATABASE_SCHEMA",
    "",
    "PostgreSQL schema for the tables (created if missing); empty: the server's search_path",
  ),
  databasePoolSize: int("HOTPIN_STORAGE_DATABASE_POOL_SIZE", 10, "PostgreSQL connections at most", {
    min: 1,
    max: 200,
  }),
  dataDir: str("HOTPIN_STORAGE_DATA_DIR", "./.data/storage", "folder for the SQLite file and folder blobs"),
  blobBackend: oneOf(
    "HOTPIN_STORAGE_BLOB_BACKEND",
    ["nats", "folder"],
    "nats",
    "where blob bytes live: the NATS JetStream object store (every replica sees them) or <data dir>/blobs",
  ),
  blobBucket: str("HOTPIN_STORAGE_BLOB_BUCKET", "hotpin-blobs", "JetStream object store bucket for blobs"),
  blobDefaultTtlS: int("HOTPIN_STORAGE_BLOB_DEFAULT_TTL_S", 86_400, "blob time to live when the caller gives none", {
    min: 1,
  }),
  blobMaxTtlS: int("HOTPIN_STORAGE_BLOB_MAX_TTL_S", 7 * 86_400, "longest blob time to live a caller may ask for", {
    min: 1,
  }),
  blobMaxBytes: int("HOTPIN_STORAGE_BLOB_MAX_BYTES", 20 * 1024 * 1024, "largest single blob", { min: 1 }),
  deviceQuotaBytes: int(
    "HOTPIN_STORAGE_DEVICE_QUOTA_BYTES",
    100 * 1024 * 1024,
    "bytes of live blobs one device may hold (seed 000: 100 MB)",
    { min: 1 },
  ),
  downloadTokenTtlS: int("HOTPIN_STORAGE_DOWNLOAD_TOKEN_TTL_S", 300, "download token lifetime when none is asked", {
    min: 1,
  }),
  downloadTokenMaxTtlS: int("HOTPIN_STORAGE_DOWNLOAD_TOKEN_MAX_TTL_S", 86_400, "longest download token lifetime", {
    min: 1,
  }),
  conversationIdleTtlS: int(
    "HOTPIN_STORAGE_CONVERSATION_IDLE_TTL_S",
    600,
    "a device's conversation expires after this long without a new turn (seed 004: 10 minutes)",
    { min: 1 },
  ),
  historyLimit: int("HOTPIN_STORAGE_HISTORY_LIMIT", 20, "turns RecentTurns returns when the caller asks for 0", {
    min: 1,
    max: 1000,
  }),
  conversationMaxTurns: int("HOTPIN_STORAGE_CONVERSATION_MAX_TURNS", 200, "older turns beyond this are pruned", {
    min: 1,
  }),
  maxTextBytes: int("HOTPIN_STORAGE_MAX_TEXT_BYTES", 16_384, "longest log message, note or turn text accepted", {
    min: 64,
  }),
  queryLimit: int("HOTPIN_STORAGE_QUERY_LIMIT", 1000, "most rows one list or query returns", { min: 1 }),
  logRetentionDays: int("HOTPIN_STORAGE_LOG_RETENTION_DAYS", 30, "logs older than this are deleted", { min: 1 }),
  sessionRetentionDays: int("HOTPIN_STORAGE_SESSION_RETENTION_DAYS", 90, "sessions started before this are deleted", {
    min: 1,
  }),
  retentionIntervalS: int("HOTPIN_STORAGE_RETENTION_INTERVAL_S", 60, "how often the retention job runs", { min: 1 }),
  eventsMaxAgeS: int("HOTPIN_STORAGE_EVENTS_MAX_AGE_S", 7 * 86_400, "event stream keeps events this long", { min: 60 }),
  eventsMaxBytes: int("HOTPIN_STORAGE_EVENTS_MAX_BYTES", 1024 ** 3, "event stream size limit", { min: 1024 * 1024 }),
  eventsReplicas: int("HOTPIN_STORAGE_EVENTS_REPLICAS", 1, "event stream replicas (JetStream cluster)", {
    min: 1,
    max: 5,
  }),
  eventsDuplicateWindowS: int(
    "HOTPIN_STORAGE_EVENTS_DUPLICATE_WINDOW_S",
    600,
    "window in which the stream drops a republished event id",
    { min: 1 },
  ),
  consumerName: str("HOTPIN_STORAGE_CONSUMER_NAME", "storage", "durable consumer name on the event stream"),
  consumerBatch: int("HOTPIN_STORAGE_CONSUMER_BATCH", 256, "most events written in one transaction", {
    min: 1,
    max: 10_000,
  }),
  consumerAckWaitMs: int(
    "HOTPIN_STORAGE_CONSUMER_ACK_WAIT_MS",
    30_000,
    "an event not acked within this is redelivered (crash recovery time)",
    { min: 500 },
  ),
  consumerMaxDeliveries: int(
    "HOTPIN_STORAGE_CONSUMER_MAX_DELIVERIES",
    5,
    "deliveries after which an event the database refuses is replaced by a dead-letter log row",
    { min: 1, max: 1000 },
  ),
  consumerRetryDelayMs: int(
    "HOTPIN_STORAGE_CONSUMER_RETRY_DELAY_MS",
    1000,
    "wait before a failed event is delivered again, times its delivery count (at most 10x)",
    { min: 10, max: 600_000 },
  ),
  consumerWriters: int(
    "HOTPIN_STORAGE_CONSUMER_WRITERS",
    2,
    "event batches in flight at once, each its own transaction (SQLite runs them one after another in its thread, the next already queued)",
    { min: 1, max: 16 },
  ),
  maxEventBytes: int("HOTPIN_STORAGE_MAX_EVENT_BYTES", 64 * 1024, "events larger than this are logged as rejected", {
    min: 1024,
  }),
};

export type StorageConfig = ReturnType<typeof readStorageConfig>;

export function readStorageConfig(env: NodeJS.ProcessEnv = process.env) {
  return readConfig(storageSettings, env);
}
