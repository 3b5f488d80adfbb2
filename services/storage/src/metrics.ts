import { latencyBuckets } from "@hotpin/runtime";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/** The storage service's metrics, on the process's own registry. */
export function createStorageMetrics(registry: Registry) {
  const registers = [registry];
  return {
    rpcSeconds: new Histogram({
      name: "hotpin_storage_rpc_seconds",
      help: "Time to answer a Storage RPC, by method and gRPC status code",
      labelNames: ["method", "code"] as const,
      buckets: latencyBuckets,
      registers,
    }),
    eventsStored: new Counter({
      name: "hotpin_storage_events_stored_total",
      help: "Events written to the database from the event stream, by event type",
      labelNames: ["type"] as const,
      registers,
    }),
    eventsDuplicate: new Counter({
      name: "hotpin_storage_events_duplicate_total",
      help: "Redelivered events that were already stored and were only acked",
      registers,
    }),
    eventsUndecodable: new Counter({
      name: "hotpin_storage_events_undecodable_total",
      help: "Stream messages that were not a valid Event (stored as an error log row)",
      registers,
    }),
    eventBatchSeconds: new Histogram({
      name: "hotpin_storage_event_batch_seconds",
      help: "Time to write one batch of events in one transaction",
      buckets: latencyBuckets,
      registers,
    }),
    eventBatchFailures: new Counter({
      name: "hotpin_storage_event_batch_failures_total",
      help: "Batches whose transaction failed; their events are redelivered",
      registers,
    }),
    eventsRetried: new Counter({
      name: "hotpin_storage_events_retried_total",
      help: "Events released for redelivery after a failed write (database unreachable, or the event refused)",
      registers,
    }),
    eventsDeadLettered: new Counter({
      name: "hotpin_storage_events_dead_lettered_total",
      help: "Events the database refused on every delivery, replaced by a dead-letter log row and terminated",
      registers,
    }),
    textEventsPurged: new Counter({
      name: "hotpin_storage_text_events_purged_total",
      help: "Partials, transcripts and answers purged from the event stream after the conversation TTL",
      registers,
    }),
    consumerPending: new Gauge({
      name: "hotpin_storage_consumer_pending_messages",
      help: "Messages in an event stream not yet delivered to the storage consumer, by stream",
      labelNames: ["stream"] as const,
      registers,
    }),
    consumerAckPending: new Gauge({
      name: "hotpin_storage_consumer_ack_pending_messages",
      help: "Messages delivered to the storage consumer and not yet acknowledged, by stream",
      labelNames: ["stream"] as const,
      registers,
    }),
    blobBytes: new Counter({
      name: "hotpin_storage_blob_bytes_total",
      help: "Blob bytes written and read",
      labelNames: ["direction"] as const,
      registers,
    }),
    blobStoreBytes: new Gauge({
      name: "hotpin_storage_blob_store_bytes",
      help: "Bytes in the blob store (shared by the replicas: each reports the whole store; read from the database at start and after each retention run, kept up to date by this replica's writes in between)",
      registers,
    }),
    blobStoreBlobs: new Gauge({
      name: "hotpin_storage_blob_store_blobs",
      help: "Blobs in the blob store, including uploads in progress and expired blobs retention has not removed yet",
      registers,
    }),
    quotaRejections: new Counter({
      name: "hotpin_storage_quota_rejections_total",
      help: "Blob uploads refused because the device's quota was full",
      registers,
    }),
    retentionRuns: new Counter({
      name: "hotpin_storage_retention_runs_total",
      help: "Retention job runs, by outcome (ok, failed)",
      labelNames: ["outcome"] as const,
      registers,
    }),
    retentionDeleted: new Counter({
      name: "hotpin_storage_retention_deleted_total",
      help: "Rows removed by the retention job, by kind",
      labelNames: ["kind"] as const,
      registers,
    }),
  };
}

export type StorageMetrics = ReturnType<typeof createStorageMetrics>;
