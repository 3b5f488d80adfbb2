import { Attr, cleanText, MAX_CLOSE_REASON_BYTES, observeTraced, recordFailure } from "@hotpin/runtime";
import type { Span } from "@opentelemetry/api";
import type { EventPayload, EventSink } from "../events";
import type { EdgeMetrics } from "../metrics";
import type { StageError } from "../pipeline/stage-error";
import { wakeWordEvent } from "../pipeline/wake-spotter";
import { CLOSE_CODES } from "../transport";
import type { ErrorCode, RerecordReason, State } from "./model";

/**
 * What a session and its exchanges report as it happens: facts, in the session's order. The
 * telemetry below turns them into NATS events, metrics and span marks; storage records the
 * session from the connected and disconnected events. The session itself builds no event
 * payload and touches no metric.
 */
export type SessionFact =
  | { type: "refused"; reason: "wrong_device" }
  | { type: "connected"; remoteAddress: string }
  | { type: "disconnected"; code: number; reason: string; wasRecording: boolean }
  | { type: "state_changed"; from: State; to: State }
  | { type: "protocol_error"; code: ErrorCode; message: string }
  /** The transfer stalled and the connection is closed: counted, not announced. */
  | { type: "transfer_timeout" }
  /** The device's own wake-word detection (server detections publish in pipeline/wake-spotter.ts). */
  | { type: "device_wake_word"; word: string }
  | { type: "server_wake_word" }
  | { type: "recording_started"; utterance: number }
  | { type: "audio_in"; bytes: number; spilledBytes: number }
  | { type: "partial"; utterance: number; text: string }
  | { type: "recording_stopped"; utterance: number; chunks: number; bytes: number; durationMs: number; span: Span }
  | { type: "rerecord"; utterance: number; reason: RerecordReason; attempt: number; intervention: boolean }
  | { type: "interrupted"; by: "barge_in" | "device" }
  | { type: "utterance_ended"; outcome: string }
  | { type: "service_refused" | "service_retried"; service: "stt" | "tts"; call: string }
  | { type: "events_confirmed"; ok: boolean; seconds: number }
  /** A pipeline mark of an utterance, `seconds` after its recording stopped. */
  | { type: "stage"; stage: string; seconds: number; span: Span }
  /** A playback's first audio went out (answers, apologies and operator speech alike). */
  | { type: "first_audio"; span: Span }
  | { type: "transcript"; utterance: number; text: string; confidence: number; durationMs: number }
  | { type: "answer"; utterance: number; text: string; model: string; hadImage: boolean }
  | { type: "tts_started"; utterance: number }
  | { type: "tts_done"; utterance: number; bytes: number; durationMs: number; interrupted: boolean }
  | { type: "audio_out"; bytes: number }
  | { type: "failed"; error: StageError; span: Span };

export type FactListener = (fact: SessionFact) => void;

/** A close the device or the server meant (not a failure), and the disconnection metric's kind. */
export function closeKind(code: number): { clean: boolean; kind: "clean" | "replaced" | "abnormal" } {
  const clean = code === 1000 || code === 1001 || code === CLOSE_CODES.restart || code === CLOSE_CODES.replaced;
  return { clean, kind: code === CLOSE_CODES.replaced ? "replaced" : clean ? "clean" : "abnormal" };
}

/** Who a session's events are about; the device id is known once it identified itself. */
export interface TelemetryIds {
  readonly sessionId: string;
  readonly deviceId: string | undefined;
  readonly dialect: string;
}

/**
 * The session's telemetry: each fact becomes the NATS event (events.proto), the metric
 * (metrics.ts) and the span mark it stands for. Events wait for the device id: a session that
 * never identified itself publishes nothing.
 */
export function sessionTelemetry(sink: EventSink, metrics: EdgeMetrics, ids: TelemetryIds): FactListener {
  const publish = (payload: EventPayload) => {
    if (ids.deviceId) sink.publish(ids.deviceId, ids.sessionId, payload);
  };
  return (fact) => {
    switch (fact.type) {
      case "refused":
        metrics.refused.inc({ reason: fact.reason });
        return;
      case "connected":
        metrics.sessions.inc({ dialect: ids.dialect });
        publish({ $case: "connected", value: { dialect: ids.dialect, remoteAddress: fact.remoteAddress } });
        return;
      case "disconnected": {
        const { clean, kind } = closeKind(fact.code);
        if (fact.wasRecording) metrics.utterances.inc({ outcome: "aborted" });
        if (ids.deviceId) metrics.disconnections.inc({ kind });
        const reason = cleanText(fact.reason, MAX_CLOSE_REASON_BYTES);
        publish({ $case: "disconnected", value: { closeCode: fact.code, reason, clean } });
        return;
      }
      case "state_changed":
        publish({ $case: "stateChanged", value: { from: fact.from, to: fact.to } });
        return;
      case "protocol_error":
        metrics.protocolErrors.inc({ code: fact.code });
        publish({ $case: "error", value: { code: fact.code, message: fact.message } });
        return;
      case "transfer_timeout":
        metrics.protocolErrors.inc({ code: "transfer_timeout" });
        return;
      case "device_wake_word":
        publish(wakeWordEvent({ word: fact.word }, "device"));
        metrics.wakeWords.inc({ source: "device" });
        return;
      case "server_wake_word":
        metrics.wakeWords.inc({ source: "server" });
        return;
      case "recording_started":
        publish({ $case: "recordingStarted", value: { utterance: fact.utterance } });
        return;
      case "audio_in":
        if (fact.spilledBytes > 0) metrics.spilledBytes.inc(fact.spilledBytes);
        metrics.audioInBytes.inc(fact.bytes);
        return;
      case "partial":
        publish({ $case: "partial", value: { utterance: fact.utterance, text: fact.text } });
        return;
      case "recording_stopped": {
        const { utterance, chunks, bytes, durationMs } = fact;
        publish({ $case: "recordingStopped", value: { utterance, chunks, bytes, durationMs } });
        fact.span.setAttribute(Attr.audioBytes, bytes);
        return;
      }
      case "rerecord": {
        const { utterance, reason, attempt, intervention } = fact;
        // An operator's request ends no utterance: only the re-record itself is counted.
        if (intervention) {
          metrics.utterances.inc({ outcome: "intervention" });
          metrics.interventions.inc({ reason });
        } else {
          if (reason !== "operator") metrics.utterances.inc({ outcome: "rerecord" });
          metrics.rerecords.inc({ reason });
        }
        publish({ $case: "rerecord", value: { utterance, reason, attempt, intervention } });
        return;
      }
      case "interrupted":
        metrics.interruptions.inc({ by: fact.by });
        return;
      case "utterance_ended":
        metrics.utterances.inc({ outcome: fact.outcome });
        return;
      case "service_refused":
        metrics.serviceRefusals.inc({ service: fact.service, call: fact.call });
        return;
      case "service_retried":
        metrics.serviceRetries.inc({ service: fact.service, call: fact.call });
        return;
      case "events_confirmed":
        metrics.eventConfirm.observe({ outcome: fact.ok ? "acked" : "timeout" }, fact.seconds);
        return;
      case "stage":
        // One trace reads as a timeline; first_audio's span event comes with its own fact.
        observeTraced(metrics.stage, { stage: fact.stage }, fact.seconds, fact.span);
        if (fact.stage !== "first_audio") fact.span.addEvent(fact.stage);
        return;
      case "first_audio":
        fact.span.addEvent("first_audio");
        return;
      case "transcript": {
        const { utterance, text, confidence, durationMs } = fact;
        publish({ $case: "transcript", value: { utterance, text, confidence, durationMs } });
        return;
      }
      case "answer": {
        const { utterance, text, model, hadImage } = fact;
        publish({ $case: "llmText", value: { utterance, text, model, hadImage } });
        return;
      }
      case "tts_started":
        publish({ $case: "ttsStarted", value: { utterance: fact.utterance } });
        return;
      case "tts_done": {
        const { utterance, durationMs, bytes, interrupted } = fact;
        publish({ $case: "ttsDone", value: { utterance, durationMs, bytes, truncated: false, interrupted } });
        return;
      }
      case "audio_out":
        metrics.audioOutBytes.inc(fact.bytes);
        return;
      case "failed": {
        const { error, span } = fact;
        recordFailure(span, error);
        metrics.utterances.inc({ outcome: "failed" });
        metrics.failures.inc({ stage: error.stage, code: error.code });
        publish({ $case: "error", value: { code: error.code, message: error.message } });
        return;
      }
    }
  };
}
