import type { llm } from "@hotpin/contracts";
import type { Logger } from "@hotpin/runtime";
import type { Context, Span } from "@opentelemetry/api";
import type { PlaybackControl, PlaybackResult, Reply } from "../dialects/dialect";
import type { PendingImage } from "../images/pending-images";
import { APOLOGY_TEXT, apologyFor } from "../pipeline/apologies";
import { deleteBlob, getBlob } from "../pipeline/blobs";
import { offerDownload } from "../pipeline/downloads";
import { loadHistory, saveTurns, speakAnswer } from "../pipeline/reply";
import { retryPolicy } from "../pipeline/retry";
import { type StageError, stageError } from "../pipeline/stage-error";
import type { SttStream } from "../pipeline/stt-stream";
import type { ErrorCode, RerecordReason, TurnEvent } from "./model";
import type { Outbox } from "./outbox";
import { rerecordReason } from "./policy";
import { PROMPT_RATE, resampled } from "./rates";
import type { RecordingBuffer } from "./recording-buffer";
import type { SessionDeps } from "./session";
import type { SessionFact } from "./telemetry";

/**
 * One exchange: an utterance from its stop to the turn stored (STT final → re-record policy →
 * image and history → the reply through the outbox → stored), or a reply alone (operator
 * speech: `speakReply`). Everything it does to the connection goes through its host, the
 * session, under the session's AbortSignal.
 */

export const FAILURE_MESSAGE: Partial<Record<ErrorCode, string>> = {
  stt_failed: "Speech recognition failed. Please try again.",
  llm_failed: "The assistant could not answer. Please try again.",
  llm_unconfigured: "No language model is configured on this server.",
  tts_failed: "The answer could not be spoken.",
};

/** One utterance's recording, from its start to its stop. */
export interface Recording {
  utterance: number;
  buffer: RecordingBuffer;
  stt: SttStream;
  chunks: number;
  bytes: number;
  lastSeq: number | undefined;
  span: Span;
  ctx: Context;
  stoppedAt: number;
  /**
   * This exchange's own signal: aborted by a barge-in or the device's abort (the session moves
   * on to the next turn at once) and when the connection ends. LLM and TTS calls and the paced
   * audio all stop on it.
   */
  signal: AbortSignal;
  /** A turn the device began with `start_recording` on a VAD session: only its stop ends it. */
  manual: boolean;
}

/** What an exchange needs of its recording once it is stopped. */
type ExchangeTurn = Pick<Recording, "utterance" | "span" | "stoppedAt" | "signal">;

/** What an exchange needs from its session. */
export interface ExchangeHost {
  readonly id: string;
  readonly deviceId: string | undefined;
  readonly deps: SessionDeps;
  readonly log: Logger;
  readonly outbox: Outbox;
  /** PCM16 mono sample rate of the dialect's reply audio; bytesPerSecond is twice it. */
  readonly outputRate: number;
  /**
   * The server takes this device's turns (the `vad` detector): there is no re-record to ask for,
   * so a low STT confidence alone does not hold back the answer (session/policy.ts).
   */
  readonly serverTurns: boolean;
  readonly bytesPerSecond: number;
  readonly closed: boolean;
  /** Reports what happened (session/telemetry.ts turns it into events, metrics and span marks). */
  emit(fact: SessionFact): void;
  /** Resolves once the events published so far are stored (bounded). */
  milestone(): Promise<void>;
  move(event: TurnEvent, message: string): void;
  rerecord(reason: RerecordReason): void;
  /** True once the device said ready_for_playback (or had already), false on timeout. */
  waitReady(timeoutMs: number): Promise<boolean>;
  /** The reply's first audio went to the device (the barge-in guard's playback clock starts). */
  playbackStarted(): void;
  /** The previous turn is stored (the history must hold it). */
  previousTurnStored(): Promise<void>;
  /** A replied turn is being stored; the next exchange waits for it. */
  turnStored(saving: Promise<void>): void;
}

export async function runExchange(host: ExchangeHost, rec: Recording): Promise<void> {
  const { cfg, services } = host.deps;
  const deviceId = host.deviceId ?? "";
  const { signal } = rec;
  // Interrupted (the session already moved on) or disconnected: this exchange says nothing more.
  const gone = () => host.closed || signal.aborted;
  // Each mark is a metric and an event on the utterance's span (first_audio is added by the
  // playback control, for replies and apologies alike), so one trace reads as a timeline.
  const since = (stage: string) =>
    host.emit({ type: "stage", stage, seconds: (Date.now() - rec.stoppedAt) / 1000, span: rec.span });
  // What was said so far does not depend on what is being said: read while STT finishes.
  const history = host
    .previousTurnStored()
    .then(() => loadHistory(services, deviceId, cfg.historyTurns, cfg.storageTimeoutMs, cfg.historyMaxChars))
    .catch((err) => {
      host.log.warn({ err: (err as Error).message }, "history unavailable, answering without it");
      return [];
    });
  let final: Awaited<ReturnType<SttStream["finish"]>>;
  // Interrupted while STT still decodes (the user went on talking): its stream is not needed.
  const cancelStt = () => rec.stt.cancel();
  signal.addEventListener("abort", cancelStt, { once: true });
  try {
    final = await rec.stt.finish(cfg.sttTimeoutMs);
  } catch (err) {
    if (gone()) return interrupted(host);
    return failExchange(host, stageError("stt", err), rec);
  } finally {
    signal.removeEventListener("abort", cancelStt);
    void rec.buffer.dispose();
  }
  if (gone()) return interrupted(host);
  since("stt_final");
  const reason = rerecordReason(final, host.serverTurns ? { ...cfg, minConfidence: 0 } : cfg);
  host.emit({
    type: "transcript",
    utterance: rec.utterance,
    text: final.text,
    confidence: final.confidence,
    durationMs: final.quality?.durationMs ?? 0,
  });
  if (reason) return host.rerecord(reason);
  // Stored while the image pointer is read, so the milestone costs no extra round trip.
  const stored = host.milestone();
  // The image uploaded for this device (on any replica) belongs to this turn only.
  const pending = await host.deps.images.take(deviceId).catch((err) => {
    host.log.warn({ err: (err as Error).message }, "pending image unavailable, answering without it");
    return undefined;
  });
  const hasImage = pending !== undefined;
  // The LLM need not wait for the transcript to be stored: everything the device sees of the
  // reply queues behind this message in the outbox, and every event behind its event.
  void host.outbox.after(stored, { type: "transcript", text: final.text, hasImage });
  const [turns, image] = await Promise.all([history, pending ? loadImage(host, pending) : undefined]);
  if (gone()) return interrupted(host);
  const reply = speakAnswer(services, {
    deviceId,
    sessionId: host.id,
    userText: final.text,
    history: turns,
    ...(image ? { image } : {}),
    llmTimeoutMs: cfg.llmTimeoutMs,
    ttsTimeoutMs: cfg.ttsTimeoutMs,
    sampleRateHz: host.outputRate,
    ttsRetry: {
      ...retryPolicy(cfg),
      onRefused: () => host.emit({ type: "service_refused", service: "tts", call: "synthesize" }),
      onRetry: () => host.emit({ type: "service_retried", service: "tts", call: "synthesize" }),
    },
    maxBytes: (cfg.maxReplyMs * host.bytesPerSecond) / 1000,
    onFirstSegment: () => since("llm_first_segment"),
    onFirstAudio: () => since("tts_first_chunk"),
    // Published as the LLM ends, while its last sentence may still be synthesised; the device
    // is told (in the reply's order) once it is stored.
    onFinal: (text, model) => host.emit({ type: "answer", utterance: rec.utterance, text, model, hadImage: hasImage }),
    onAnswer: (text) => host.outbox.confirmed({ type: "answer", text }),
  });
  signal.addEventListener("abort", () => reply.cancel(), { once: true });
  host.move("reply_started", "Speaking the answer");
  try {
    const result = await speakReply(host, reply, rec, since);
    if (!result) return;
    const outcome = result.interrupted ? "interrupted" : result.outcome === "played" ? "replied" : result.outcome;
    host.emit({ type: "utterance_ended", outcome });
    // Stored in the background; the next utterance waits for it before reading history. An
    // interrupted reply is stored as the sentences it had begun to say, marked interrupted.
    const assistant = result.interrupted ? result.said : reply.text();
    if (assistant || !result.interrupted) {
      host.turnStored(
        saveTurns(
          services,
          {
            deviceId,
            sessionId: host.id,
            user: final.text,
            assistant,
            hadImage: hasImage,
            interrupted: result.interrupted,
          },
          cfg.storageTimeoutMs,
        ).catch((err) => host.log.warn({ err: (err as Error).message }, "turn not stored")),
      );
    }
    if (!result.interrupted) host.move("reply_done", "Ready");
  } catch (err) {
    reply.cancel();
    if (gone()) return interrupted(host);
    return failExchange(host, stageError("llm", err), rec);
  }
}

/** An exchange cut off before its reply played: counted, nothing said (a device that left is counted at its end). */
function interrupted(host: ExchangeHost): void {
  if (!host.closed) host.emit({ type: "utterance_ended", outcome: "interrupted" });
}

/**
 * A reply from its first audio to `complete`, for answers and operator speech alike: ttsStarted,
 * the dialect's playback through the outbox, ttsDone stored, then `complete`. Undefined when
 * the device went away meanwhile. An interrupted reply (its signal aborted: the session already
 * told the device) ends with ttsDone `interrupted` and no `complete`.
 */
export async function speakReply(
  host: ExchangeHost,
  reply: Reply,
  rec: ExchangeTurn,
  since: (stage: string) => void,
): Promise<(PlaybackResult & { interrupted: boolean; said: string }) | undefined> {
  host.emit({ type: "tts_started", utterance: rec.utterance });
  const done = ttsDone(host, rec.utterance);
  // The sentences the dialect has taken so far: what the user heard, at least in part.
  const said: string[] = [];
  const heard: Reply = {
    ...reply,
    segments: (async function* () {
      for await (const segment of reply.segments) {
        if (segment.text) said.push(segment.text);
        yield segment;
      }
    })(),
  };
  let result: PlaybackResult;
  try {
    result = await host.outbox.play(heard, playbackControl(host, rec, since, done));
  } catch (err) {
    // A cancelled LLM or TTS call fails the reply's stream: that is the interruption, not a failure.
    if (!rec.signal.aborted) throw err;
    result = { outcome: "aborted", bytes: 0 };
  }
  if (host.closed) return undefined;
  host.emit({ type: "audio_out", bytes: result.bytes });
  since("reply_sent");
  const interrupted = rec.signal.aborted;
  await done(result.bytes, interrupted); // already stored when the dialect announced the end itself
  if (!interrupted) await host.outbox.confirmed({ type: "complete" });
  return { ...result, interrupted, said: said.join(" ") };
}

/** The stored image for the LLM; a blob that expired or cannot be read means no image. */
async function loadImage(host: ExchangeHost, pending: PendingImage): Promise<llm.Image | undefined> {
  const { services, cfg } = host.deps;
  try {
    const blob = await getBlob(services, pending.blobId, cfg.storageTimeoutMs, cfg.imageMaxBytes);
    // The pointer names a blob; only one stored for this very device may reach its LLM turn.
    if (blob.info.deviceId !== host.deviceId) throw new Error("pending image belongs to another device");
    void deleteBlob(services, pending.blobId, cfg.storageTimeoutMs).catch(() => undefined);
    return { data: blob.data, mimeType: pending.mimeType };
  } catch (err) {
    host.log.warn({ err: (err as Error).message }, "pending image not readable, answering without it");
    return undefined;
  }
}

/**
 * The ttsDone event, published once and awaited until stored: called by the dialect before its
 * last playback message, or after playback that ended otherwise (offered, aborted).
 */
function ttsDone(host: ExchangeHost, utterance: number): (bytes: number, interrupted?: boolean) => Promise<void> {
  let stored: Promise<void> | undefined;
  return (bytes, interrupted = false) => {
    if (!stored) {
      const durationMs = Math.round((bytes * 1000) / host.bytesPerSecond);
      host.emit({ type: "tts_done", utterance, durationMs, bytes, interrupted });
      stored = host.milestone();
    }
    return stored;
  };
}

function playbackControl(
  host: ExchangeHost,
  rec: Pick<Recording, "span" | "stoppedAt" | "signal">,
  since: (stage: string) => void,
  beforeDone: (bytes: number) => Promise<void> = () => Promise.resolve(),
): PlaybackControl {
  const { cfg, services } = host.deps;
  return {
    waitReady: (timeoutMs) => host.waitReady(timeoutMs),
    offerDownload: (wav) =>
      offerDownload(
        services,
        wav,
        { deviceId: host.deviceId ?? "", sessionId: host.id },
        cfg.downloadTtlSec,
        cfg.storageTimeoutMs,
        cfg.publicUrl,
      ),
    pace: {
      bytesPerSecond: host.bytesPerSecond,
      leadMs: cfg.playbackLeadMs,
      highWaterBytes: cfg.sendHighWaterBytes,
      signal: rec.signal,
    },
    playbackReadyTimeoutMs: cfg.playbackReadyTimeoutMs,
    firstAudio: () => {
      since("first_audio");
      host.emit({ type: "first_audio", span: rec.span });
      host.playbackStarted();
    },
    beforeDone,
  };
}

/** A stage failed: the cached spoken apology if there is one, then the dialect's error. */
export async function failExchange(
  host: ExchangeHost,
  err: StageError,
  rec: Pick<Recording, "span" | "signal">,
): Promise<void> {
  const { span, signal } = rec;
  host.log.warn({ stage: err.stage, code: err.code, err: err.message }, "utterance failed");
  host.emit({ type: "failed", error: err, span });
  if (host.closed) return;
  const kind = apologyFor(err.code);
  const prompt = await host.deps.apologies.get(kind);
  if (prompt && !host.closed && !signal.aborted) {
    const pcm = resampled(prompt, PROMPT_RATE, host.outputRate);
    const apology: Reply = {
      segments: (async function* () {
        yield { pcm, text: APOLOGY_TEXT[kind], index: 0 };
      })(),
      text: () => APOLOGY_TEXT[kind],
      apology: true,
    };
    host.move("reply_started", "Apologising");
    await host.outbox
      .play(
        apology,
        playbackControl(host, { span, stoppedAt: Date.now(), signal }, () => {}),
      )
      .catch((e) => host.log.warn({ err: (e as Error).message }, "apology not played"));
  }
  if (host.closed || signal.aborted) return;
  void host.outbox.confirmed({ type: "error", code: err.code, message: FAILURE_MESSAGE[err.code] ?? err.message });
  host.move("reply_done", "Ready");
}
