import type { ClientDuplexStream } from "@grpc/grpc-js";
import type { stt } from "@hotpin/contracts";
import { cleanText, grpc } from "@hotpin/runtime";
import type { EventPayload, EventSink } from "../events";
import { backoffMs, isRefusal, type RetryPolicy } from "./retry";
import { grpcCode } from "./stage-error";

export interface WakeSpotterOptions {
  deviceId: string;
  sessionId: string;
  /** The rate of the PCM16 mono audio written (the edge's internal 16 kHz unless said). */
  sampleRateHz?: number;
  /** Each detection, once (after it was published to `events`, when given). */
  onWake: (detection: stt.WakeDetection) => void;
  /** Where each detection is published as a `wakeWord` event (source "server"). */
  events?: EventSink;
  retry: RetryPolicy;
  /** The service took a stream (its response headers): it holds a spotting slot now. */
  onAccepted?: () => void;
  /** A spot call refused (full spotting slots, a restarting replica); a retry scheduled after one. */
  onRefused?: () => void;
  onRetry?: () => void;
  /**
   * Spotting stopped for good: retries spent, or STT answered something a retry cannot fix
   * (spotting off on the replica, a bad config). The session goes on without wake words.
   */
  onGiveUp?: (err: unknown) => void;
}

type Call = ClientDuplexStream<stt.SpotRequest, stt.SpotResponse>;

/** Chunks a call may hold unsent (a few seconds of a device's 20–60 ms frames) before audio is dropped. */
const MAX_QUEUED_CHUNKS = 128;

/**
 * The STT service's wake-word spotting for one session's continuous audio (services/stt README,
 * "Wake words"). A stream is open while the spotter runs: its audio goes straight to the call and
 * its detections come back through onWake. Audio written while no call is live is dropped, not
 * queued: a wake word is worth hearing now or not at all, and a gap must not grow memory.
 *
 * - Refused (RESOURCE_EXHAUSTED/UNAVAILABLE): opened again after a jittered backoff, at most
 *   `retry.retries` times in a row; an accepted call (its response headers) starts the count anew.
 * - Ended by the service's stream-length limit (OUT_OF_RANGE) or its idle limit
 *   (DEADLINE_EXCEEDED): opened again on the next audio, as a fresh stream.
 * - Anything else ends spotting (onGiveUp).
 * - What gRPC buffers is bounded: beyond MAX_QUEUED_CHUNKS unsent chunks, audio is dropped.
 */
export class WakeSpotter {
  private call: Call | undefined;
  private retries = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  /** No call now; the next audio opens one (after a service limit ended the last). */
  private reopenOnAudio = false;
  private stopped = false;
  private dropped = 0;

  constructor(
    private readonly client: stt.SpeechToTextClient,
    private readonly opts: WakeSpotterOptions,
  ) {
    this.open();
  }

  /** Bytes of audio dropped because no call could take them (reconnecting, back-pressured). */
  get droppedBytes(): number {
    return this.dropped;
  }

  /** True while the spotter has not stopped or given up. */
  get running(): boolean {
    return !this.stopped;
  }

  write(pcm: Buffer): void {
    if (this.stopped) return;
    if (this.reopenOnAudio) {
      this.reopenOnAudio = false;
      this.open();
    }
    const call = this.call;
    if (!call || call.writableLength >= MAX_QUEUED_CHUNKS) {
      this.dropped += pcm.length;
      return;
    }
    call.write({ request: { $case: "audio", value: pcm } });
  }

  /** Ends spotting now (the session closed or a turn started); later calls do nothing. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.retryTimer);
    const call = this.call;
    this.call = undefined;
    call?.cancel();
  }

  private open(): void {
    const call = this.client.spot();
    this.call = call;
    call.once("metadata", () => {
      if (this.call !== call) return;
      this.retries = 0;
      this.opts.onAccepted?.();
    });
    call.on("data", (res: stt.SpotResponse) => {
      const d = res.detection;
      if (this.call !== call || !d) return;
      const { events, deviceId, sessionId } = this.opts;
      events?.publish(deviceId, sessionId, wakeWordEvent({ word: d.phrase, confidence: d.confidence }, "server"));
      this.opts.onWake(d);
    });
    call.on("error", (err) => {
      if (this.call === call) this.failed(err);
    });
    // The service ends a stream only after our half-close, which stop() never sends; a stream
    // ended anyway is opened again on the next audio.
    call.on("end", () => {
      if (this.call !== call) return;
      this.call = undefined;
      this.reopenOnAudio = !this.stopped;
    });
    call.write({
      request: {
        $case: "config",
        value: {
          sampleRateHz: this.opts.sampleRateHz ?? 16_000,
          deviceId: this.opts.deviceId,
          sessionId: this.opts.sessionId,
        },
      },
    });
  }

  private failed(err: unknown): void {
    this.call = undefined;
    if (this.stopped) return;
    const code = grpcCode(err);
    if (code === grpc.status.OUT_OF_RANGE || code === grpc.status.DEADLINE_EXCEEDED) {
      this.reopenOnAudio = true;
      return;
    }
    if (isRefusal(err)) {
      this.opts.onRefused?.();
      if (this.retries < this.opts.retry.retries) {
        const delay = backoffMs(this.retries++, this.opts.retry);
        this.opts.onRetry?.();
        this.retryTimer = setTimeout(() => {
          if (!this.stopped) this.open();
        }, delay);
        return;
      }
    }
    this.stopped = true;
    this.opts.onGiveUp?.(err);
  }
}

/** Longest wake word kept in an event, in UTF-8 bytes: a device's text is cut to this. */
export const MAX_WAKE_WORD_BYTES = 64;

/**
 * The `wakeWord` event of a detection: the STT service's (source "server") or one a device
 * reported itself (source "device", e.g. xiaozhi `listen` `detect`, which carries no score, so
 * its confidence is 1 as events.proto says). The word is cleaned and bounded: a device chose it.
 */
export function wakeWordEvent(
  detection: { word: string; confidence?: number },
  source: "server" | "device",
): Extract<EventPayload, { $case: "wakeWord" }> {
  const confidence = Number.isFinite(detection.confidence) ? (detection.confidence as number) : 1;
  return {
    $case: "wakeWord",
    value: {
      word: cleanText(detection.word.trim(), MAX_WAKE_WORD_BYTES),
      confidence: Math.max(0, Math.min(1, confidence)),
      source,
    },
  };
}
