import type { EngineName } from "../settings";

export interface RecognizedWord {
  word: string;
  startMs: number;
  endMs: number;
  /** 0..1 */
  confidence: number;
}

export interface Transcript {
  text: string;
  words: RecognizedWord[];
  /** Mean word confidence; 0 when nothing was recognised. */
  confidence: number;
  /** The engine whose result this is, when a stream's engine combines two. */
  engine?: EngineName;
  /** Why a combined engine fell back to its local result. */
  fallback?: "error" | "deadline";
}

/**
 * One utterance on one engine. Audio is always 16 kHz PCM16 mono by the time it gets here.
 * accept and finish may return a promise when the engine runs a long call off the thread (so
 * other streams on the same worker go on); the caller makes no other call on this recognizer,
 * release included, until it settles.
 */
export interface Recognizer {
  accept(pcm: Int16Array): void | Promise<void>;
  /** The hypothesis of the whole utterance so far ("" when there is none yet). */
  partial(): string;
  finish(): Transcript | Promise<Transcript>;
  /**
   * Gives the engine resources back; safe to call more than once, also after finish. A promise
   * when letting go takes a call off the thread; it settles once everything is back.
   */
  release(): void | Promise<void>;
  /**
   * Cuts short a call in flight when that is possible (an HTTP request; not a native call): its
   * promise then settles soon, so a cancelled stream does not hold its slot until a deadline.
   */
  interrupt?(): void;
  /** A keyphrase spotter's detections since the last call (spotters only; they have no transcript). */
  detections?(): WakeHit[];
}

/** A keyphrase a spotter heard. */
export interface WakeHit {
  phrase: string;
  /** 0..1 */
  confidence: number;
  /** Audio of the stream fed when it was detected, at the engine's rate. */
  audioMs: number;
}

/** An engine inside one worker thread. */
export interface Engine {
  readonly name: EngineName;
  /** Whether partial() says anything before finish(). */
  readonly partials: boolean;
  /**
   * `language` is the request's BCP-47 tag; engines with a fixed model language ignore it. A
   * promise when the recognizer has to be built first (off the thread: it takes long).
   */
  open(language?: string): Recognizer | Promise<Recognizer>;
  /**
   * Recognizers in use, prepared-but-idle ones (to show that cancelled streams free theirs) and
   * ones being built for a stream that found none idle.
   */
  counts(): { live: number; idle: number; building?: number };
  close(): void;
}

export const ENGINE_SAMPLE_RATE = 16_000;

/** Joins recognised words into the text and mean confidence of a Transcript. */
export function transcriptOf(words: RecognizedWord[]): Transcript {
  const confidence = words.length > 0 ? words.reduce((sum, w) => sum + w.confidence, 0) / words.length : 0;
  return { text: words.map((w) => w.word).join(" "), words, confidence };
}

/** An engine cannot be used here; the message says why (missing library, model, key). */
export class EngineUnavailableError extends Error {
  override name = "EngineUnavailableError";
}
