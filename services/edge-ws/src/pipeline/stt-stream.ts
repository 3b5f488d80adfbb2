import type { ClientDuplexStream } from "@grpc/grpc-js";
import type { stt } from "@hotpin/contracts";
import { grpc } from "@hotpin/runtime";
import { unary } from "./services";
import { StageError, stageError } from "./stage-error";

export interface SttStreamOptions {
  deviceId: string;
  sessionId: string;
  partials: boolean;
  onPartial: (text: string) => void;
}

/**
 * One recording's recognition: the stream opens when recording starts and is fed chunk by
 * chunk, so the final is ready soon after the stop. If the stream fails (no free worker, a
 * restart of the service), the whole recording is sent again with RecognizeFile at the stop.
 */
export class SttStream {
  private call: ClientDuplexStream<stt.RecognizeRequest, stt.RecognizeResponse> | undefined;
  private final: stt.FinalResult | undefined;
  private failure: unknown;
  private readonly settled: Promise<void>;

  constructor(
    private readonly client: stt.SpeechToTextClient,
    private readonly opts: SttStreamOptions,
  ) {
    const call = client.recognize();
    this.call = call;
    this.settled = new Promise<void>((resolve) => {
      call.on("data", (res: stt.RecognizeResponse) => {
        if (res.result?.$case === "partial") opts.onPartial(res.result.value.text);
        else if (res.result?.$case === "final") this.final = res.result.value;
      });
      call.on("error", (err) => {
        this.failure = err;
        this.call = undefined;
        resolve();
      });
      call.on("end", () => resolve());
    });
    call.write({ request: { $case: "config", value: this.config() } });
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

  /** Whether the stream is still usable (else the stop falls back to RecognizeFile). */
  get streaming(): boolean {
    return this.call !== undefined;
  }

  write(pcm: Buffer): void {
    this.call?.write({ request: { $case: "audio", value: pcm } });
  }

  /** Half-closes and waits for the final; `recording` is read only when the stream failed. */
  async finish(timeoutMs: number, recording: () => Promise<Buffer>): Promise<stt.FinalResult> {
    this.call?.end();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<"timeout">((r) => {
      timer = setTimeout(() => r("timeout"), timeoutMs);
    });
    const outcome = await Promise.race([this.settled, timedOut]).finally(() => clearTimeout(timer));
    if (outcome === "timeout") {
      this.cancel();
      throw new StageError("stt", "stt_failed", "no final transcript before the deadline");
    }
    if (this.final) return this.final;
    const retryable = [grpc.status.RESOURCE_EXHAUSTED, grpc.status.UNAVAILABLE].includes(
      (this.failure as { code?: number })?.code ?? -1,
    );
    if (!retryable) throw stageError("stt", this.failure ?? new Error("stream ended without a final"));
    try {
      const res = await unary(
        this.client,
        this.client.recognizeFile,
        { config: this.config(), audio: await recording() },
        timeoutMs,
      );
      if (!res.result) throw new Error("no result");
      return res.result;
    } catch (err) {
      throw stageError("stt", err);
    }
  }

  cancel(): void {
    this.call?.cancel();
    this.call = undefined;
  }
}
