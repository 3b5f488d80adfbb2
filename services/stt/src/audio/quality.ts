/** Share of samples at or above this magnitude counts as clipping (the contract says 32000). */
export const CLIP_LEVEL = 32_000;
/** Frames of 30 ms at 16 kHz for speech_ratio. */
const FRAME_SAMPLES = 480;

export interface AudioQualityFigures {
  durationMs: number;
  rms: number;
  peak: number;
  clippingRatio: number;
  speechRatio: number;
}

/**
 * Audio-quality figures over a whole utterance, fed chunk by chunk so nothing is buffered:
 * the edge decides on re-recording from them (silence, too loud, too short).
 */
export class AudioQualityMeter {
  private samples = 0;
  private sumSquares = 0;
  private peak = 0;
  private clipped = 0;
  private frames = 0;
  private speechFrames = 0;
  private frameFill = 0;
  private frameSquares = 0;

  constructor(
    private readonly sampleRate: number,
    private readonly speechRmsThreshold: number,
  ) {}

  add(pcm: Int16Array): void {
    const frameSamples = Math.round((FRAME_SAMPLES * this.sampleRate) / 16_000);
    const threshold2 = this.speechRmsThreshold * this.speechRmsThreshold;
    for (let i = 0; i < pcm.length; i++) {
      const s = pcm[i] as number;
      const sq = s * s;
      const mag = s < 0 ? -s : s;
      this.sumSquares += sq;
      if (mag > this.peak) this.peak = mag;
      if (mag >= CLIP_LEVEL) this.clipped++;
      this.frameSquares += sq;
      if (++this.frameFill === frameSamples) {
        this.frames++;
        if (this.frameSquares / frameSamples > threshold2) this.speechFrames++;
        this.frameFill = 0;
        this.frameSquares = 0;
      }
    }
    this.samples += pcm.length;
  }

  get durationMs(): number {
    return Math.round((this.samples * 1000) / this.sampleRate);
  }

  figures(): AudioQualityFigures {
    const n = this.samples;
    return {
      durationMs: this.durationMs,
      rms: n > 0 ? Math.sqrt(this.sumSquares / n) : 0,
      // -32768 has no positive twin in PCM16; report it as full scale.
      peak: Math.min(this.peak, 32_767),
      clippingRatio: n > 0 ? this.clipped / n : 0,
      speechRatio: this.frames > 0 ? this.speechFrames / this.frames : 0,
    };
  }
}
