import { toWav } from "@hotpin/audio";
import Groq, { APIConnectionTimeoutError, APIError, toFile } from "groq-sdk";
import { ENGINE_SAMPLE_RATE, type Engine, type RecognizedWord, type Recognizer, type Transcript } from "./engine";
import { EngineCallError } from "./errors";

export interface GroqEngineOptions {
  apiKey: string;
  baseUrl: string;
  model: string;
  timeoutMs: number;
  /** Audio buffered per utterance at most; the stream limit keeps it below this anyway. */
  maxUtteranceMs: number;
}

interface WhisperSegment {
  start: number;
  end: number;
  text: string;
  avg_logprob?: number;
}
interface WhisperWord {
  word: string;
  start: number;
  end: number;
}
interface VerboseTranscription {
  text: string;
  segments?: WhisperSegment[];
  words?: WhisperWord[];
}

/**
 * Groq Whisper: the utterance is sent as one WAV on finish, so there are no partials. Word
 * confidences come from the segment's average token log-probability, the only score Whisper gives.
 */
export class GroqEngine implements Engine {
  readonly name = "groq" as const;
  readonly partials = false;
  private readonly client: Groq;
  private live = 0;

  constructor(private readonly options: GroqEngineOptions) {
    // Retries belong to the caller (the edge can re-record); one attempt within the deadline.
    this.client = new Groq({
      apiKey: options.apiKey,
      baseURL: options.baseUrl,
      timeout: options.timeoutMs,
      maxRetries: 0,
    });
  }

  open(language = ""): Recognizer {
    this.live++;
    return new GroqRecognizer(this.client, this.options, language, () => this.live--);
  }

  counts() {
    return { live: this.live, idle: 0 };
  }

  close(): void {}
}

class GroqRecognizer implements Recognizer {
  private readonly chunks: Buffer[] = [];
  private bytes = 0;
  private readonly abort = new AbortController();
  private released = false;

  constructor(
    private readonly client: Groq,
    private readonly options: GroqEngineOptions,
    private readonly language: string,
    private readonly onRelease: () => void,
  ) {}

  accept(pcm: Int16Array): void {
    const max = (this.options.maxUtteranceMs / 1000) * ENGINE_SAMPLE_RATE * 2;
    if (this.bytes + pcm.byteLength > max) throw new EngineCallError(11 /* OUT_OF_RANGE */, "utterance too long");
    this.chunks.push(Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength));
    this.bytes += pcm.byteLength;
  }

  partial(): string {
    return "";
  }

  async finish(): Promise<Transcript> {
    if (this.bytes === 0) return { text: "", words: [], confidence: 0 };
    const wav = toWav(Buffer.concat(this.chunks, this.bytes));
    try {
      const answer = (await this.client.audio.transcriptions.create(
        {
          file: await toFile(wav, "utterance.wav", { type: "audio/wav" }),
          model: this.options.model,
          response_format: "verbose_json",
          timestamp_granularities: ["word", "segment"],
          // Whisper wants ISO-639-1 ("en"), devices send BCP-47 ("en-IN").
          ...(this.language ? { language: this.language.split("-")[0]?.toLowerCase() } : {}),
        },
        { signal: this.abort.signal },
      )) as unknown as VerboseTranscription;
      return transcriptFromWhisper(answer);
    } catch (err) {
      throw groqFailure(err);
    }
  }

  interrupt(): void {
    this.abort.abort();
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.abort.abort();
    this.chunks.length = 0;
    this.onRelease();
  }
}

/** Words with timings when Groq gives them, else the segment's words over the segment's span. */
export function transcriptFromWhisper(answer: VerboseTranscription): Transcript {
  const text = (answer.text ?? "").trim();
  const segments = answer.segments ?? [];
  const segmentConfidence = (t: number) => {
    const seg = segments.find((s) => t >= s.start && t <= s.end) ?? segments[0];
    return seg?.avg_logprob !== undefined ? Math.min(1, Math.exp(seg.avg_logprob)) : 0;
  };
  let words: RecognizedWord[];
  if (answer.words && answer.words.length > 0) {
    words = answer.words.map((w) => ({
      word: w.word.trim(),
      startMs: Math.round(w.start * 1000),
      endMs: Math.round(w.end * 1000),
      confidence: segmentConfidence(w.start),
    }));
  } else {
    words = segments.flatMap((s) =>
      s.text
        .trim()
        .split(/\s+/)
        .filter(Boolean)
        .map((word) => ({
          word,
          startMs: Math.round(s.start * 1000),
          endMs: Math.round(s.end * 1000),
          confidence: s.avg_logprob !== undefined ? Math.min(1, Math.exp(s.avg_logprob)) : 0,
        })),
    );
  }
  const confidence = words.length > 0 ? words.reduce((sum, w) => sum + w.confidence, 0) / words.length : 0;
  return { text, words, confidence };
}

/** Maps Groq's answer to a gRPC status the caller can act on (retry elsewhere or not). */
function groqFailure(err: unknown): EngineCallError {
  if (err instanceof APIConnectionTimeoutError) return new EngineCallError(4, "groq transcription timed out", err);
  if (err instanceof APIError) {
    const status = err.status ?? 0;
    if (status === 429) return new EngineCallError(8, "groq rate limit reached", err);
    if (status === 401 || status === 403) return new EngineCallError(9, "groq rejected the API key", err);
    if (status >= 500 || status === 0) return new EngineCallError(14, `groq unavailable (${status})`, err);
    return new EngineCallError(9, `groq refused the request (${status})`, err);
  }
  return new EngineCallError(14, `groq request failed: ${(err as Error).message}`, err);
}
