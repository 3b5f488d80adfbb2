import type { AudioQualityFigures } from "../audio/quality";
import type { Transcript, WakeHit } from "../engines/engine";
import type { EngineName } from "../settings";

/**
 * Most samples one stream is fed before the next stream's turn: 128 ms of audio, a few ms of
 * engine time, so no stream waits long for another however large its chunks are.
 */
export const QUANTUM_SAMPLES = 2048;

/** What a worker needs to build its engines; sent once as workerData. */
export interface WorkerSetup {
  engines: EngineName[];
  streamsPerWorker: number;
  /** Spotting streams per worker, on slots of their own after the recognition slots. */
  wakeStreamsPerWorker: number;
  /** Decoder arguments of the wake-word search (wake-phrases.ts); absent: spotting is off. */
  wake?: { args: string[] };
  warmRecognizers: number;
  speechRmsThreshold: number;
  maxUtteranceMs: number;
  pocketsphinxModelDir: string;
  voskLibPath: string;
  /** Address of the process's Vosk model, when vosk is among the engines. */
  voskModelAddress?: bigint;
  groq?: { apiKey: string; baseUrl: string; model: string; timeoutMs: number; finalDeadlineMs: number };
  /**
   * One Int32 per stream slot holding the id of a cancelled stream, so a worker skips audio
   * still queued for it instead of decoding it first.
   */
  cancelled: SharedArrayBuffer;
}

export type ToWorker =
  | { t: "open"; id: number; slot: number; engine: EngineName; sampleRate: number; language: string; partials: boolean }
  /** A wake-word spotting stream: detections instead of partials, an empty final at its end. */
  | { t: "spot"; id: number; slot: number; sampleRate: number }
  | { t: "audio"; id: number; pcm: ArrayBuffer; sentAt: number }
  | { t: "end"; id: number }
  | { t: "cancel"; id: number }
  | { t: "counts"; request: number }
  /** Release everything and let the thread end (terminating it inside a native call aborts the process). */
  | { t: "close" };

export type FromWorker =
  | { t: "ready"; engines: EngineName[] }
  | { t: "failed"; message: string }
  | { t: "ack"; id: number; bytes: number; waitMs: number }
  | { t: "partial"; id: number; text: string; audioMs: number; sentAt: number }
  | {
      t: "final";
      id: number;
      transcript: Transcript;
      quality: AudioQualityFigures;
      engineMs: number;
    }
  | ({ t: "wake"; id: number } & WakeHit)
  | { t: "error"; id: number; code: number; message: string }
  /** The worker has let go of a cancelled stream; only now may its slot take another. */
  | { t: "released"; id: number }
  /** heapBytes: the worker's JS heap in use (its isolate's, not the process's). */
  | { t: "counts"; request: number; live: number; idle: number; building: number; streams: number; heapBytes: number };
