import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Attr, createRegistry, shutdownTelemetry, startTelemetry, tracer } from "@hotpin/runtime";
import { SpanStatusCode } from "@opentelemetry/api";
import type { ReadableSpan, SpanProcessor } from "@opentelemetry/sdk-trace-base";
import type { Registry } from "prom-client";
import type { EventPayload, EventSink } from "../events";
import { createEdgeMetrics } from "../metrics";
import { StageError } from "../pipeline/stage-error";
import { closeKind, sessionTelemetry } from "./telemetry";

/** A fact in → the NATS event payload, the metric and the span marks out (session/telemetry.ts). */

const ended: ReadableSpan[] = [];
const keepEnded: SpanProcessor = {
  onStart: () => undefined,
  onEnd: (span) => void ended.push(span),
  forceFlush: async () => undefined,
  shutdown: async () => undefined,
};

before(() => startTelemetry([keepEnded]));
after(() => shutdownTelemetry());

function subject(identified = true) {
  const published: { deviceId: string; sessionId: string; payload: EventPayload }[] = [];
  const sink: EventSink = {
    publish: (deviceId, sessionId, payload) => void published.push({ deviceId, sessionId, payload }),
    confirm: async () => true,
  };
  const registry = createRegistry("edge");
  const ids = { sessionId: "session-1", dialect: "firmware", deviceId: identified ? "pin.one" : undefined };
  const emit = sessionTelemetry(sink, createEdgeMetrics(registry), ids);
  return { emit, published, registry, ids };
}

/** A counter's (or a histogram's `_count`) value for the series with these labels (0 when absent). */
async function value(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name.replace(/_count$/, ""));
  const sample = (metric?.values ?? []).find(
    (v) =>
      (!name.endsWith("_count") || (v as { metricName?: string }).metricName === name) &&
      Object.entries(labels).every(([k, want]) => String((v.labels as Record<string, unknown>)[k]) === want),
  );
  return sample?.value ?? 0;
}

test("telemetry - connected: the session counted by dialect and the connected event for the device", async () => {
  const { emit, published, registry } = subject();
  emit({ type: "connected", remoteAddress: "10.0.0.7" });
  assert.equal(await value(registry, "hotpin_edge_sessions_total", { dialect: "firmware" }), 1);
  assert.deepEqual(published, [
    {
      deviceId: "pin.one",
      sessionId: "session-1",
      payload: { $case: "connected", value: { dialect: "firmware", remoteAddress: "10.0.0.7" } },
    },
  ]);
});

test("telemetry - before the device identified itself nothing is published, metrics still count", async () => {
  const { emit, published, registry } = subject(false);
  emit({ type: "protocol_error", code: "bad_message", message: "hello needs a session" });
  emit({ type: "disconnected", code: 1006, reason: "", wasRecording: false });
  assert.deepEqual(published, []);
  assert.equal(await value(registry, "hotpin_edge_protocol_errors_total", { code: "bad_message" }), 1);
  assert.equal(await value(registry, "hotpin_edge_disconnections_total", { kind: "abnormal" }), 0);
});

test("telemetry - a protocol error is counted by code and published as an error event", async () => {
  const { emit, published, registry } = subject();
  emit({ type: "protocol_error", code: "illegal_state", message: "audio is not allowed while connected" });
  emit({ type: "transfer_timeout" });
  assert.equal(await value(registry, "hotpin_edge_protocol_errors_total", { code: "illegal_state" }), 1);
  assert.equal(await value(registry, "hotpin_edge_protocol_errors_total", { code: "transfer_timeout" }), 1);
  assert.deepEqual(
    published.map((p) => p.payload),
    [{ $case: "error", value: { code: "illegal_state", message: "audio is not allowed while connected" } }],
    "a transfer timeout is counted, not announced",
  );
});

test("telemetry - re-records: an utterance's outcome, an intervention's, and an operator's request", async () => {
  const { emit, published, registry } = subject();
  emit({ type: "rerecord", utterance: 2, reason: "too_short", attempt: 1, intervention: false });
  emit({ type: "rerecord", utterance: 3, reason: "silence", attempt: 0, intervention: true });
  emit({ type: "rerecord", utterance: 3, reason: "operator", attempt: 1, intervention: false });
  assert.equal(await value(registry, "hotpin_edge_utterances_total", { outcome: "rerecord" }), 1);
  assert.equal(await value(registry, "hotpin_edge_utterances_total", { outcome: "intervention" }), 1);
  assert.equal(await value(registry, "hotpin_edge_rerecords_total", { reason: "too_short" }), 1);
  assert.equal(await value(registry, "hotpin_edge_rerecords_total", { reason: "operator" }), 1);
  assert.equal(await value(registry, "hotpin_edge_interventions_total", { reason: "silence" }), 1);
  assert.deepEqual(
    published.map((p) => p.payload),
    [
      { $case: "rerecord", value: { utterance: 2, reason: "too_short", attempt: 1, intervention: false } },
      { $case: "rerecord", value: { utterance: 3, reason: "silence", attempt: 0, intervention: true } },
      { $case: "rerecord", value: { utterance: 3, reason: "operator", attempt: 1, intervention: false } },
    ],
  );
});

test("telemetry - disconnected: the close code decides clean and kind; a recording cut off is aborted", async () => {
  const { emit, published, registry } = subject();
  emit({ type: "disconnected", code: 4001, reason: "replaced", wasRecording: false });
  emit({ type: "disconnected", code: 1006, reason: "x".repeat(500), wasRecording: true });
  assert.equal(await value(registry, "hotpin_edge_disconnections_total", { kind: "replaced" }), 1);
  assert.equal(await value(registry, "hotpin_edge_disconnections_total", { kind: "abnormal" }), 1);
  assert.equal(await value(registry, "hotpin_edge_utterances_total", { outcome: "aborted" }), 1);
  const [replaced, abnormal] = published.map((p) => p.payload);
  assert.deepEqual(replaced, { $case: "disconnected", value: { closeCode: 4001, reason: "replaced", clean: true } });
  assert.equal(abnormal?.$case, "disconnected");
  if (abnormal?.$case !== "disconnected") return;
  assert.equal(abnormal.value.clean, false);
  assert.ok(Buffer.byteLength(abnormal.value.reason) <= 123, "the reason is bounded like a close reason");
  assert.deepEqual(closeKind(1012), { clean: true, kind: "clean" }, "a restart is a clean close");
});

test("telemetry - a reply: transcript, answer, tts started and done, the audio counted", async () => {
  const { emit, published, registry } = subject();
  emit({ type: "transcript", utterance: 1, text: "hello", confidence: 0.9, durationMs: 800 });
  emit({ type: "answer", utterance: 1, text: "Hi.", model: "m", hadImage: false });
  emit({ type: "tts_started", utterance: 1 });
  emit({ type: "audio_out", bytes: 4800 });
  emit({ type: "tts_done", utterance: 1, bytes: 4800, durationMs: 150, interrupted: false });
  emit({ type: "utterance_ended", outcome: "replied" });
  assert.equal(await value(registry, "hotpin_edge_audio_out_bytes_total"), 4800);
  assert.equal(await value(registry, "hotpin_edge_utterances_total", { outcome: "replied" }), 1);
  assert.deepEqual(
    published.map((p) => p.payload),
    [
      { $case: "transcript", value: { utterance: 1, text: "hello", confidence: 0.9, durationMs: 800 } },
      { $case: "llmText", value: { utterance: 1, text: "Hi.", model: "m", hadImage: false } },
      { $case: "ttsStarted", value: { utterance: 1 } },
      {
        $case: "ttsDone",
        value: { utterance: 1, durationMs: 150, bytes: 4800, truncated: false, interrupted: false },
      },
    ],
  );
});

test("telemetry - audio in counts the bytes and only the bytes that spilled to disk", async () => {
  const { emit, registry } = subject();
  emit({ type: "audio_in", bytes: 640, spilledBytes: 0 });
  emit({ type: "audio_in", bytes: 640, spilledBytes: 640 });
  assert.equal(await value(registry, "hotpin_edge_audio_in_bytes_total"), 1280);
  assert.equal(await value(registry, "hotpin_edge_spilled_bytes_total"), 640);
});

test("telemetry - the utterance's span: stages as events and a histogram, its bytes, its failure", async () => {
  const { emit, published, registry } = subject();
  const span = tracer().startSpan("edge.utterance.test");
  emit({ type: "recording_stopped", utterance: 4, chunks: 3, bytes: 9600, durationMs: 300, span });
  emit({ type: "stage", stage: "stt_final", seconds: 0.2, span });
  emit({ type: "stage", stage: "first_audio", seconds: 0.5, span });
  emit({ type: "first_audio", span });
  emit({ type: "failed", error: new StageError("llm", "llm_failed", "upstream 503"), span });
  span.end();
  const done = ended.find((s) => s.name === "edge.utterance.test");
  assert.ok(done, "the span ended");
  assert.deepEqual(
    done.events.map((e) => e.name),
    ["stt_final", "first_audio", "exception"],
    "first_audio is marked once, by its own fact",
  );
  assert.equal(done.attributes[Attr.audioBytes], 9600);
  assert.equal(done.status.code, SpanStatusCode.ERROR);
  assert.equal(await value(registry, "hotpin_edge_stage_seconds_count", { stage: "first_audio" }), 1);
  assert.equal(await value(registry, "hotpin_edge_utterances_total", { outcome: "failed" }), 1);
  assert.equal(await value(registry, "hotpin_edge_utterance_failures_total", { stage: "llm", code: "llm_failed" }), 1);
  assert.deepEqual(
    published.map((p) => p.payload),
    [
      { $case: "recordingStopped", value: { utterance: 4, chunks: 3, bytes: 9600, durationMs: 300 } },
      { $case: "error", value: { code: "llm_failed", message: "upstream 503" } },
    ],
  );
});
