import type { ClientDuplexStream } from "@grpc/grpc-js";
import type { stt } from "@hotpin/contracts";
import { backoffMs, isRefusal, type RetryPolicy, retryRefused } from "./retry";
import { unary } from "./services";
import { StageError, stageError } from "./stage-error";

export type SttCall = "stream" | "file";

export interface SttStreamOptions {
  deviceId: string;
  sessionId: string;
  partials: boolean;
  onPartial: (text: string) => void;
  /** The recording so far: replayed into a stream opened late, sent whole by RecognizeFile. */
  recording: { readonly bytes: number; read(): Promise<Buffer> };
  retry: RetryPolicy;
  /** A call refused with RESOURCE_EXHAUSTED/UNAVAILABLE; a retry scheduled after one. */
  onRefused?: (call: SttCall) => void;
  onRetry?: (call: SttCall) => void;
}

/** Replayed audio goes out in pieces well under the STT's chunk limit. */
const REPLAY_PIECE_BYTES = 32_000;
/** Passes over the recording while it still grows; loopback reads win in one or two. */
const MAX_REPLAY_PASSES = 8;

type Call = ClientDuplexStream<stt.RecognizeRequest, stt.RecognizeResponse>;

/**
 * One recording's recognition: the stream opens when recording starts and is fed chunk by
 * chunk, so the final is ready soon after the stop. A refused stream (full worker pool, a
 * restarting replica) is opened again after a jittered backoff while the device keeps
 * recording; once STT accepts it (its response headers), the audio buffered so far is replayed
 * and the stream goes live. If no stream is live at the stop, the whole recording goes to
 * RecognizeFile, again with bounded retries, within the STT deadline. No audio is queued
 * outside the session's RecordingBuffer.
 */
export class SttStream {
  private call: Call | undefined;
  /** Chunks go straight to the call; false while a reopened call catches up (or none is open). */
  private live = false;
  private final: stt.FinalResult | undefined;
  private failure: unknown;
  private callDone: Promise<void> = Promise.resolve();
  private retries = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly client: stt.SpeechToTextClient,
    private readonly opts: SttStreamOptions,
  ) {
    this.open(true);
  }

  private config(): stt.RecognitionConfig {
    return {
      sampleRateHz: 16_000,
      language: "",
      partialResults: this.opts.partials,
      engine: "",
      deviceId: this.opts.deviceId,
      sessionId: this.opts.sessionId,
    };
  }

  /** The first call is live at once (nothing recorded yet); a reopened one replays first. */
  private open(first: boolean): void {
    const call = this.client.recognize();
    this.call = call;
    this.live = first;
    this.callDone = new Promise<void>((resolve) => {
      if (!first) call.once("metadata", () => void this.replay(call));
      call.on("data", (res: stt.RecognizeResponse) => {
        if (res.result?.$case === "partial") this.opts.onPartial(res.result.value.text);
        else if (res.result?.$case === "final") this.final = res.result.value;
      });
      call.on("error", (err) => {
        if (this.call === call) this.failed(err);
        resolve();
      });
      call.on("end", () => resolve());
    });
    call.write({ request: { $case: "config", value: this.config() } });
  }

  private failed(err: unknown): void {
    this.call = undefined;
    this.live = false;
    this.failure = err;
    if (!isRefusal(err)) return;
    this.opts.onRefused?.("stream");
    // After the stop, finish() takes over with RecognizeFile.
    if (this.stopped || this.retries >= this.opts.retry.retries) return;
    const delay = backoffMs(this.retries++, this.opts.retry);
    this.opts.onRetry?.("stream");
    this.retryTimer = setTimeout(() => {
      if (!this.stopped) this.open(false);
    }, delay);
  }

  /** Sends what was recorded before this call was accepted, then lets chunks through. */
  private async replay(call: Call): Promise<void> {
    let sent = 0;
    for (let pass = 0; pass < MAX_REPLAY_PASSES; pass++) {
      if (this.call !== call) return;
      // Synchronous from this check to `live`: no chunk can slip between replay and live.
      if (sent >= this.opts.recording.bytes) {
        this.live = true;
        if (this.stopped) call.end();
        return;
      }
      const audio = await this.opts.recording.read().catch(() => undefined);
      if (this.call !== call || !audio) break;
      for (let at = sent; at < audio.length; at += REPLAY_PIECE_BYTES) {
        call.write({ request: { $case: "audio", value: audio.subarray(at, at + REPLAY_PIECE_BYTES) } });
      }
      sent = Math.max(sent, audio.length);
    }
    // Could not catch up: give the stream up; the stop sends the recording as a file.
    if (this.call === call) {
      this.call = undefined;
      this.failure = new StageError("stt", "stt_failed", "replay did not catch up");
      call.cancel();
    }
  }

  write(pcm: Buffer): void {
    if (this.live) this.call?.write({ request: { $case: "audio", value: pcm } });
  }

  /** Half-closes and waits for the final; without a live stream, RecognizeFile with retries. */
  async finish(timeoutMs: number): Promise<stt.FinalResult> {
    const deadlineAt = Date.now() + timeoutMs;
    this.stopped = true;
    clearTimeout(this.retryTimer);
    if (this.call) {
      // A call still replaying ends itself once it has sent everything.
      if (this.live) this.call.end();
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<"timeout">((r) => {
        timer = setTimeout(() => r("timeout"), timeoutMs);
      });
      const outcome = await Promise.race([this.callDone, timedOut]).finally(() => clearTimeout(timer));
      if (outcome === "timeout") {
        this.cancel();
        throw new StageError("stt", "stt_failed", "no final transcript before the deadline");
      }
      if (this.final) return this.final;
    }
    const fallback = isRefusal(this.failure) || this.failure instanceof StageError;
    if (!fallback) throw stageError("stt", this.failure ?? new Error("stream ended without a final"));
    try {
      const audio = await this.opts.recording.read();
      const res = await retryRefused(
        (remainingMs) => unary(this.client, this.client.recognizeFile, { config: this.config(), audio }, remainingMs),
        this.opts.retry,
        deadlineAt,
        { onRefused: () => this.opts.onRefused?.("file"), onRetry: () => this.opts.onRetry?.("file") },
      );
      if (!res.result) throw new Error("no result");
      return res.result;
    } catch (err) {
      throw stageError("stt", err);
    }
  }

  cancel(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    const call = this.call;
    this.call = undefined;
    call?.cancel();
  }
}
