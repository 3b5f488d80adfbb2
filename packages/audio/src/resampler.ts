/**
 * Streaming polyphase resampler (windowed sinc, Blackman window) between any two integer rates.
 * The ratio is reduced to L/M and one filter per output phase is computed once, so each output
 * sample costs 2·H multiply-adds and no trigonometry: cheap enough to run on every
 * always-listening stream. Chunk boundaries leave no clicks: the filter's history is carried over.
 */
export class Resampler {
  /** Output phases (L) and input step (M) of the reduced ratio outputRate/inputRate = L/M. */
  private readonly up: number;
  private readonly down: number;
  private readonly halfTaps: number;
  /** phases[p][i] weighs input n - H + 1 + i for an output at input position n + p/L. */
  private readonly phases: Float32Array[];
  /** Input not yet fully used; history[0] is absolute input index `base`. */
  private history: Int16Array;
  private base: number;
  /** Index of the next output sample, and input samples seen so far. */
  private nextOut = 0;
  private seen = 0;

  constructor(
    readonly inputRate: number,
    readonly outputRate: number,
    halfTaps = 16,
  ) {
    if (!Number.isInteger(inputRate) || !Number.isInteger(outputRate) || inputRate <= 0 || outputRate <= 0) {
      throw new RangeError(`cannot resample ${inputRate} Hz to ${outputRate} Hz`);
    }
    const g = gcd(inputRate, outputRate);
    this.up = outputRate / g;
    this.down = inputRate / g;
    const shrink = Math.min(1, outputRate / inputRate);
    // Downsampling lowers the cutoff below the new Nyquist frequency (no aliasing) and widens the filter.
    const cutoff = shrink * 0.95;
    this.halfTaps = Math.ceil(halfTaps / shrink);
    const h = this.halfTaps;
    this.phases = Array.from({ length: this.up }, (_, p) => {
      const taps = new Float32Array(2 * h);
      for (let i = 0; i < 2 * h; i++) taps[i] = kernel(i - h + 1 - p / this.up, cutoff, h);
      return taps;
    });
    // Silence before the first sample, so the first outputs have a full window.
    this.history = new Int16Array(h);
    this.base = -h;
  }

  get passthrough(): boolean {
    return this.inputRate === this.outputRate;
  }

  /** Resamples a chunk; output lags input by the filter's half-width until `flush`. */
  push(pcm: Int16Array): Int16Array {
    if (this.passthrough) return pcm;
    const joined = new Int16Array(this.history.length + pcm.length);
    joined.set(this.history);
    joined.set(pcm, this.history.length);
    this.history = joined;
    this.seen += pcm.length;
    return this.drain(false);
  }

  /** Emits what the filter still holds, treating the input as followed by silence. */
  flush(): Int16Array {
    if (this.passthrough) return new Int16Array(0);
    const padded = new Int16Array(this.history.length + 2 * this.halfTaps);
    padded.set(this.history);
    this.history = padded;
    return this.drain(true);
  }

  private drain(final: boolean): Int16Array {
    const { up, down, halfTaps: h } = this;
    const available = this.base + this.history.length;
    // Output j sits at input position j·M/L; it needs inputs up to floor(j·M/L) + H.
    const outputs = new Int16Array(Math.ceil(((this.history.length + 1) * up) / down) + 1);
    let count = 0;
    const history = this.history;
    for (;;) {
      const j = this.nextOut;
      const n = Math.floor((j * down) / up);
      if (final ? n >= this.seen : n + h >= available) break;
      const taps = this.phases[(j * down) % up] as Float32Array;
      const start = n - h + 1 - this.base;
      let acc = 0;
      for (let i = 0; i < taps.length; i++) acc += (history[start + i] as number) * (taps[i] as number);
      outputs[count++] = acc < -32768 ? -32768 : acc > 32767 ? 32767 : Math.round(acc);
      this.nextOut++;
    }
    // Keep only what the next output can still reach.
    const keepFrom = Math.floor((this.nextOut * down) / up) - h + 1 - this.base;
    if (keepFrom > 0) {
      this.history = this.history.slice(keepFrom);
      this.base += keepFrom;
    }
    return outputs.slice(0, count);
  }
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

function kernel(x: number, cutoff: number, halfTaps: number): number {
  if (Math.abs(x) >= halfTaps) return 0;
  const t = x * cutoff;
  const sinc = t === 0 ? 1 : Math.sin(Math.PI * t) / (Math.PI * t);
  const w = 0.42 + 0.5 * Math.cos((Math.PI * x) / halfTaps) + 0.08 * Math.cos((2 * Math.PI * x) / halfTaps);
  return cutoff * sinc * w;
}

/** PCM16 LE bytes as samples (a copy, so odd offsets are fine). */
export function pcmSamples(pcm: Buffer): Int16Array {
  const out = new Int16Array(pcm.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = pcm.readInt16LE(i * 2);
  return out;
}

/** Samples as PCM16 LE bytes. */
export function pcmBytes(samples: Int16Array): Buffer {
  const out = Buffer.alloc(samples.length * 2);
  for (let i = 0; i < samples.length; i++) out.writeInt16LE(samples[i] as number, i * 2);
  return out;
}
