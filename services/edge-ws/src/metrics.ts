import { latencyBuckets } from "@hotpin/runtime";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/** Every value of hotpin_edge_utterances_total's outcome label. */
const UTTERANCE_OUTCOMES = ["replied", "offered", "aborted", "rerecord", "intervention", "failed"];

/** The edge's own metrics; labels never carry device ids or user content. */
export function createEdgeMetrics(registry: Registry) {
  const registers = [registry];
  const metrics = {
    connections: new Gauge({
      name: "hotpin_edge_connections",
      help: "device sockets open now, by dialect",
      labelNames: ["dialect"],
      registers,
    }),
    refused: new Counter({
      name: "hotpin_edge_connections_refused_total",
      help: "connections refused before or at the handshake, by reason",
      labelNames: ["reason"],
      registers,
    }),
    protocolErrors: new Counter({
      name: "hotpin_edge_protocol_errors_total",
      help: "bad device input answered with an error, by code",
      labelNames: ["code"],
      registers,
    }),
    stage: new Histogram({
      name: "hotpin_edge_stage_seconds",
      help: "time from end of speech to each pipeline mark, by stage",
      labelNames: ["stage"],
      buckets: latencyBuckets,
      registers,
      // The utterance's trace id rides along each observation, so a slow point links to its trace.
      enableExemplars: true,
    }),
    utterances: new Counter({
      name: "hotpin_edge_utterances_total",
      help: "recordings ended, by outcome",
      labelNames: ["outcome"],
      registers,
    }),
    wakeWords: new Counter({
      name: "hotpin_edge_wake_words_total",
      help: "wake words heard on always-listening sessions, by who detected them: server (STT spotting) or device",
      labelNames: ["source"],
      registers,
    }),
    interruptions: new Counter({
      name: "hotpin_edge_interruptions_total",
      help: "replies cut off, by who: barge_in (the user spoke over it) or device (it aborted)",
      labelNames: ["by"],
      registers,
    }),
    rerecords: new Counter({
      name: "hotpin_edge_rerecords_total",
      help: "devices asked to record again, by reason",
      labelNames: ["reason"],
      registers,
    }),
    interventions: new Counter({
      name: "hotpin_edge_interventions_total",
      help: "utterances given up after too many re-records (a person must act), by the last reason",
      labelNames: ["reason"],
      registers,
    }),
    failures: new Counter({
      name: "hotpin_edge_utterance_failures_total",
      help: "utterances that ended in an error, by failing stage and error code",
      labelNames: ["stage", "code"],
      registers,
    }),
    sessions: new Counter({
      name: "hotpin_edge_sessions_total",
      help: "device sessions started (a device identified itself), by dialect; reconnects count again",
      labelNames: ["dialect"],
      registers,
    }),
    disconnections: new Counter({
      name: "hotpin_edge_disconnections_total",
      help: "device sessions ended, by kind (clean, replaced, abnormal)",
      labelNames: ["kind"],
      registers,
    }),
    serviceRefusals: new Counter({
      name: "hotpin_edge_service_refusals_total",
      help: "calls to STT/TTS refused with RESOURCE_EXHAUSTED or UNAVAILABLE, by service and call",
      labelNames: ["service", "call"],
      registers,
    }),
    serviceRetries: new Counter({
      name: "hotpin_edge_service_retries_total",
      help: "refused STT/TTS calls tried again after a backoff, by service and call",
      labelNames: ["service", "call"],
      registers,
    }),
    audioInBytes: new Counter({ name: "hotpin_edge_audio_in_bytes_total", help: "PCM bytes received", registers }),
    audioOutBytes: new Counter({ name: "hotpin_edge_audio_out_bytes_total", help: "reply bytes sent", registers }),
    spilledBytes: new Counter({
      name: "hotpin_edge_spilled_bytes_total",
      help: "recorded bytes written to disk",
      registers,
    }),
    imageUploads: new Counter({
      name: "hotpin_edge_image_uploads_total",
      help: "POST /image answers, by outcome (ok or the error code)",
      labelNames: ["outcome"],
      registers,
    }),
    imageBytes: new Counter({
      name: "hotpin_edge_image_bytes_total",
      help: "image bytes accepted (as uploaded)",
      registers,
    }),
    commands: new Counter({
      name: "hotpin_edge_commands_total",
      help: "device commands answered by this replica, by command and outcome",
      labelNames: ["command", "outcome"],
      registers,
    }),
    observers: new Gauge({
      name: "hotpin_edge_observers",
      help: "/events clients connected now",
      registers,
    }),
    observerEvents: new Counter({
      name: "hotpin_edge_observer_events_total",
      help: "events sent to /events clients",
      registers,
    }),
    ownership: new Counter({
      name: "hotpin_edge_ownership_changes_total",
      help: "device ownership changes in NATS KV seen by this replica, by kind",
      labelNames: ["kind"],
      registers,
    }),
    eventsPublished: new Counter({
      name: "hotpin_edge_events_published_total",
      help: "events stored by JetStream",
      registers,
    }),
    eventsDropped: new Counter({
      name: "hotpin_edge_events_dropped_total",
      help: "events dropped because the local buffer was full",
      registers,
    }),
    eventConfirm: new Histogram({
      name: "hotpin_edge_event_confirm_seconds",
      help: "wait before a device milestone for its events to be stored, by outcome (acked or timeout)",
      labelNames: ["outcome"],
      buckets: [0.0005, 0.001, 0.002, 0.005, ...latencyBuckets.slice(1)],
      registers,
    }),
    eventsRejected: new Counter({
      name: "hotpin_edge_events_rejected_total",
      help: "events dropped because NATS refused them for good (bad subject, too large, refused by the stream)",
      registers,
    }),
    dependencyUp: new Gauge({
      name: "hotpin_edge_dependency_up",
      help: "1 while a dependency answers healthy, 0 otherwise (the edge stays ready either way)",
      labelNames: ["dependency"],
      registers,
    }),
    downloads: new Counter({
      name: "hotpin_edge_downloads_total",
      help: "GET /download answers, by outcome",
      labelNames: ["outcome"],
      registers,
    }),
    eventsBuffered: new Gauge({
      name: "hotpin_edge_events_buffered",
      help: "events waiting for NATS",
      registers,
    }),
    xiaozhiOta: new Counter({
      name: "hotpin_edge_xiaozhi_ota_total",
      help: "xiaozhi OTA and activation answers, by outcome (connection, code, activated, pending, bad_request, rate_limited, unavailable)",
      labelNames: ["outcome"],
      registers,
    }),
  };
  // Exported at 0 from the start: rate() sees no increase in a series whose first sample is 1,
  // so without this the first failed utterance would never reach the error-budget alert.
  for (const outcome of UTTERANCE_OUTCOMES) metrics.utterances.inc({ outcome }, 0);
  return metrics;
}

export type EdgeMetrics = ReturnType<typeof createEdgeMetrics>;
