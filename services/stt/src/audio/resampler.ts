/**
 * Streaming band-limited resampler (windowed sinc, Blackman window) from any rate to 16 kHz.
 * Chunk boundaries leave no clicks because the filter's history is carried across calls;
 * libraries on hand (wave-resampler) only resample whole buffers.
 */
export class StreamingResampler {
  private readonly step: number;
  private readonly cutoff: number;
  private readonly halfTaps: number;
  /** Input not yet fully used, starting at absolute input index `base`. */
  private history = new Float64Array(0);
  private base = 0;
  /** Absolute input position (fractional) of the next output sample. */
  private position = 0;

  constructor(
    readonly inputRate: number,
    readonly outputRate = 16_000,
    halfTaps = 16,
  ) {
    this.step = inputRate / outputRate;
    // Downsampling lowers the cutoff below the new Nyquist to avoid aliasing.
    this.cutoff = Math.min(1, outputRate / inputRate) * 0.95;
    this.halfTaps = Math.ceil(halfTaps / Math.min(1, outputRate / inputRate));
  }

  get passthrough(): boolean {
    return this.inputRate === this.outputRate;
  }

  /** Resamples a chunk; output lags input by the filter's half-width until `flush`. */
  push(pcm: Int16Array): Int16Array {
    if (this.passthrough) return pcm;
    const joined = new Float64Array(this.history.length + pcm.length);
    joined.set(this.history);
    for (let i = 0; i < pcm.length; i++) joined[this.history.length + i] = pcm[i] as number;
    this.history = joined;
    return this.drain(this.base + joined.length - this.halfTaps);
  }

  /** Emits what the filter still holds, treating the input as followed by silence. */
  flush(): Int16Array {
    if (this.passthrough) return new Int16Array(0);
    return this.drain(this.base + this.history.length);
  }

  private drain(limit: number): Int16Array {
    const out: number[] = [];
    const h = this.history;
    while (this.position < limit) {
      const center = this.position - this.base;
      const first = Math.max(0, Math.ceil(center - this.halfTaps));
      const last = Math.min(h.length - 1, Math.floor(center + this.halfTaps));
      let acc = 0;
      for (let k = first; k <= last; k++) acc += (h[k] as number) * this.kernel(k - center);
      out.push(Math.max(-32768, Math.min(32767, Math.round(acc))));
      this.position += this.step;
    }
    // Keep only what the next output samples can still reach.
    const keepFrom = Math.max(0, Math.floor(this.position - this.base - this.halfTaps));
    if (keepFrom > 0) {
      this.history = h.slice(keepFrom);
      this.base += keepFrom;
    }
    return Int16Array.from(out);
  }

  private kernel(x: number): number {
    const c = this.cutoff;
    const t = x * c;
    const sinc = t === 0 ? 1 : Math.sin(Math.PI * t) / (Math.PI * t);
    const w = 0.42 + 0.5 * Math.cos((Math.PI * x) / this.halfTaps) + 0.08 * Math.cos((2 * Math.PI * x) / this.halfTaps);
    return c * sinc * w;
  }
}
