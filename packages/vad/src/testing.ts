import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseWav } from "@hotpin/audio";
import { DEFAULT_LISTENER_OPTIONS, Listener } from "./listener";

/** Real speech from Debian's pocketsphinx-testdata (16 kHz mono): five LibriVox utterances. */
export const LIBRIVOX_DIR = "/usr/share/pocketsphinx/test/data/librivox";
export const LIBRIVOX_IDS = ["0870", "0880", "0890", "0920", "0930"] as const;

export function librivox(id: string): Buffer {
  return parseWav(readFileSync(join(LIBRIVOX_DIR, `sense_and_sensibility_01_austen_64kb-${id}.wav`))).data;
}

/** Silence of `ms` at 16 kHz. */
export function silence(ms: number): Buffer {
  return Buffer.alloc(ms * 32);
}

/**
 * Adds white noise at `dbfs` (RMS) from a fixed-seed generator, so every run hears the same
 * noise; clips at full scale.
 */
export function withNoise(pcm: Buffer, dbfs: number, seed = 1): Buffer {
  const out = Buffer.alloc(pcm.length);
  // Uniform noise in [-a, a] has RMS a/sqrt(3).
  const amplitude = 32768 * 10 ** (dbfs / 20) * Math.sqrt(3);
  let state = seed >>> 0;
  for (let i = 0; i < pcm.length; i += 2) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    const noise = (state / 0x100000000) * 2 - 1;
    const v = Math.round(pcm.readInt16LE(i) + noise * amplitude);
    out.writeInt16LE(Math.max(-32768, Math.min(32767, v)), i);
  }
  return out;
}

export interface Script {
  pcm: Buffer;
  /** Where each utterance's file lies in the stream, in ms. */
  utterances: { id: string; fromMs: number; toMs: number }[];
}

/** The five utterances one after another with `gapMs` of silence before each and after the last. */
export function speechWithPauses(gapMs: number): Script {
  const parts: Buffer[] = [];
  const utterances: Script["utterances"] = [];
  let atMs = 0;
  for (const id of LIBRIVOX_IDS) {
    parts.push(silence(gapMs));
    atMs += gapMs;
    const pcm = librivox(id);
    parts.push(pcm);
    utterances.push({ id, fromMs: atMs, toMs: atMs + pcm.length / 32 });
    atMs += pcm.length / 32;
  }
  parts.push(silence(gapMs));
  return { pcm: Buffer.concat(parts), utterances };
}

/**
 * Where the words of a 16 kHz recording of one utterance begin and end, by the default listener
 * (the edge's own VAD): for latencies measured from the speech rather than from the file's edges.
 */
export async function speechSpan(pcm: Buffer): Promise<{ onsetMs: number; lastWordMs: number }> {
  const listener = await Listener.create(DEFAULT_LISTENER_OPTIONS);
  try {
    const events = listener.push(Buffer.concat([pcm, silence(1_000)]));
    const start = events.find((e) => e.type === "start");
    const end = events.find((e) => e.type === "end");
    if (start?.type !== "start" || end?.type !== "end") throw new Error("the recording holds no utterance");
    return { onsetMs: start.atMs, lastWordMs: end.atMs - DEFAULT_LISTENER_OPTIONS.turn.endSilenceMs };
  } finally {
    listener.free();
  }
}
