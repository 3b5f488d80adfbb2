import { join } from "node:path";
import type { Logger } from "@hotpin/runtime";
import type { NatsConnection } from "@nats-io/transport-node";
import type { BlobBackend } from "./blobs/backend";
import { Blobs } from "./blobs/blobs";
import { FolderBlobs } from "./blobs/folder";
import { NatsObjectBlobs } from "./blobs/nats-objects";
import type { StorageConfig } from "./config";
import { Conversations } from "./conversations";
import { type OpenDatabase, openDatabase } from "./db/connect";
import { DownloadTokens } from "./download-tokens";
import { EventConsumer } from "./events/consumer";
import type { StorageParts } from "./grpc/service";
import { Logs } from "./logs";
import type { StorageMetrics } from "./metrics";
import { Retention } from "./retention";
import { Sessions } from "./sessions";

export interface StorageComponents {
  database: OpenDatabase;
  backend: BlobBackend;
  parts: StorageParts;
  consumer: EventConsumer;
  retention: Retention;
}

type ComponentConfig = Omit<
  StorageConfig,
  | "host"
  | "port"
  | "metricsPort"
  | "natsServers"
  | "natsToken"
  | "logLevel"
  | "shutdownDelayMs"
  | "shutdownStepTimeoutMs"
  | "shutdownDeadlineMs"
>;

/** Opens the database and the blob backend and builds every part from the configuration. */
export async function createComponents(
  cfg: ComponentConfig,
  nc: NatsConnection,
  metrics: StorageMetrics,
  log: Logger,
): Promise<StorageComponents> {
  const database = await openDatabase({
    url: cfg.databaseUrl,
    dataDir: cfg.dataDir,
    schema: cfg.databaseSchema,
    poolSize: cfg.databasePoolSize,
    log,
  });
  try {
    const { db } = database;
    const backend =
      cfg.blobBackend === "nats"
        ? await NatsObjectBlobs.open(nc, {
            bucket: cfg.blobBucket,
            maxAgeMs: cfg.blobMaxTtlS * 1000,
            replicas: cfg.eventsReplicas,
          })
        : await FolderBlobs.open(join(cfg.dataDir, "blobs"));
    const blobs = new Blobs(
      db,
      backend,
      {
        defaultTtlMs: cfg.blobDefaultTtlS * 1000,
        maxTtlMs: cfg.blobMaxTtlS * 1000,
        maxBlobBytes: cfg.blobMaxBytes,
        deviceQuotaBytes: cfg.deviceQuotaBytes,
      },
      (u) => {
        metrics.blobStoreBytes.set(u.bytes);
        metrics.blobStoreBlobs.set(u.blobs);
      },
    );
    await blobs.refreshStored();
    const text = { maxTextBytes: cfg.maxTextBytes, queryLimit: cfg.queryLimit };
    const parts: StorageParts = {
      sessions: new Sessions(db, text),
      logs: new Logs(db, text),
      conversations: new Conversations(db, {
        idleTtlMs: cfg.conversationIdleTtlS * 1000,
        historyLimit: cfg.historyLimit,
        maxTurns: cfg.conversationMaxTurns,
        maxTextBytes: cfg.maxTextBytes,
      }),
      blobs,
      tokens: new DownloadTokens(db, blobs, {
        defaultTtlMs: cfg.downloadTokenTtlS * 1000,
        maxTtlMs: cfg.downloadTokenMaxTtlS * 1000,
      }),
    };
    const consumer = new EventConsumer(
      nc,
      database,
      {
        name: cfg.consumerName,
        batch: cfg.consumerBatch,
        ackWaitMs: cfg.consumerAckWaitMs,
        maxTextBytes: cfg.maxTextBytes,
        maxEventBytes: cfg.maxEventBytes,
        maxDeliveries: cfg.consumerMaxDeliveries,
        retryDelayMs: cfg.consumerRetryDelayMs,
        writers: cfg.consumerWriters,
        stream: {
          maxAgeMs: cfg.eventsMaxAgeS * 1000,
          maxBytes: cfg.eventsMaxBytes,
          replicas: cfg.eventsReplicas,
          duplicateWindowMs: cfg.eventsDuplicateWindowS * 1000,
        },
        // User text in the event stream lives no longer than the conversation it belongs to.
        textTtlMs: cfg.conversationIdleTtlS * 1000,
      },
      metrics,
      log,
    );
    const retention = new Retention(
      db,
      blobs,
      {
        logMaxAgeMs: cfg.logRetentionDays * 86_400_000,
        sessionMaxAgeMs: cfg.sessionRetentionDays * 86_400_000,
        conversationIdleMs: cfg.conversationIdleTtlS * 1000,
        intervalMs: cfg.retentionIntervalS * 1000,
      },
      metrics,
      log,
    );
    return { database, backend, parts, consumer, retention };
  } catch (err) {
    await database.close();
    throw err;
  }
}
