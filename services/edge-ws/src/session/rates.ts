import { pcmBytes, pcmSamples, Resampler } from "@hotpin/audio";

/**
 * The rate the core works at: STT, the VAD and the recording all take PCM16 mono 16 kHz; every
 * dialect's own rate is converted once, here, at the session's boundary.
 */
export const CORE_RATE = 16_000;
/** The rate of the cached spoken prompts (pipeline/apologies.ts). */
export const PROMPT_RATE = 16_000;

/** A device's upstream at its own rate, resampled to CORE_RATE as it streams (no clicks between chunks). */
export class InputResampler {
  private readonly resampler: Resampler | undefined;

  constructor(inputRate: number) {
    this.resampler = inputRate === CORE_RATE ? undefined : new Resampler(inputRate, CORE_RATE);
  }

  push(pcm: Buffer): Buffer {
    return this.resampler ? pcmBytes(this.resampler.push(pcmSamples(pcm))) : pcm;
  }
}

/** A whole buffer from one rate to another (a cached prompt for a dialect that plays at 24 kHz). */
export function resampled(pcm: Buffer, from: number, to: number): Buffer {
  if (from === to) return pcm;
  const r = new Resampler(from, to);
  return Buffer.concat([pcmBytes(r.push(pcmSamples(pcm))), pcmBytes(r.flush())]);
}
