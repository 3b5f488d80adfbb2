import type { tts } from "@hotpin/contracts";
import { deadlineIn, type Logger } from "@hotpin/runtime";
import type { ErrorCode } from "../session/model";
import type { Services } from "./services";

/** What the device says when a stage fails: short, and the same every time so it can be cached. */
export const APOLOGY_TEXT = {
  stt: "Sorry, I could not make out what you said. Please try again.",
  llm: "Sorry, I cannot answer right now. Please try again in a moment.",
  unconfigured: "Sorry, no language model is configured on this server.",
  tts: "Sorry, something went wrong while preparing my answer.",
  // Said, not shown, by dialects whose prompts are spoken (DAP1): every answer there is a WAV.
  not_understood: "Sorry, I did not catch that. Please try again.",
  bad_audio: "Sorry, I could not read that recording.",
  busy: "Sorry, I am busy with other requests. Please try again in a moment.",
  too_slow: "Sorry, that is taking too long. Please try again.",
  restarting: "Sorry, the server is restarting. Please try again in a moment.",
} as const;
export type ApologyKind = keyof typeof APOLOGY_TEXT;

export function apologyFor(code: ErrorCode): ApologyKind {
  if (code === "stt_failed") return "stt";
  if (code === "llm_unconfigured") return "unconfigured";
  if (code === "tts_failed") return "tts";
  return "llm";
}

/**
 * Spoken apologies, synthesised once by the TTS service and kept in memory: when TTS itself is
 * the failing stage, the cached copy is the only way the device can still hear something.
 * Warmed at start-up and retried until every phrase is cached.
 */
export class Apologies {
  private readonly cache = new Map<ApologyKind, Buffer>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly services: Services,
    private readonly log: Logger,
    private readonly timeoutMs = 5_000,
  ) {}

  warm(retryMs = 15_000): void {
    const attempt = async () => {
      for (const kind of Object.keys(APOLOGY_TEXT) as ApologyKind[]) await this.get(kind);
      if (this.cache.size < Object.keys(APOLOGY_TEXT).length) this.timer = setTimeout(attempt, retryMs).unref();
      else this.log.info("apologies cached");
    };
    void attempt();
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  /** The apology's PCM, or undefined when it is not cached and TTS cannot make it now. */
  async get(kind: ApologyKind): Promise<Buffer | undefined> {
    const cached = this.cache.get(kind);
    if (cached) return cached;
    try {
      const pcm = await this.synthesize(APOLOGY_TEXT[kind]);
      if (pcm.length > 0) this.cache.set(kind, pcm);
      return pcm.length > 0 ? pcm : undefined;
    } catch (err) {
      this.log.debug({ err, kind }, "apology not synthesised");
      return undefined;
    }
  }

  private synthesize(text: string): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const parts: Buffer[] = [];
      const s = this.services.tts.synthesize(
        { text, sentences: [], voice: undefined, sampleRateHz: 16_000, maxBytes: 0, deviceId: "", sessionId: "" },
        { deadline: deadlineIn(this.timeoutMs) },
      );
      s.on("data", (r: tts.SynthesizeResponse) => {
        if (r.event?.$case === "chunk") parts.push(r.event.value.pcm);
      });
      s.on("error", reject);
      s.on("end", () => resolve(Buffer.concat(parts)));
    });
  }
}
