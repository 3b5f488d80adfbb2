/**
 * Streaming conversion of float samples at any rate to 16-bit PCM at `outRate` (16 kHz for the
 * mesh), clipped to int16. Going down (44.1/48 kHz microphones), each output sample is the mean
 * of the input samples its period covers, a box filter that keeps most aliasing out; going up
 * (an 8 kHz headset), samples are interpolated linearly. Keeps its position between calls, so
 * chunks of any size join seamlessly. Shared by the browser's virtual device and the unit tests.
 */
export class Resampler {
  private readonly step: number;
  /** Input position (in input samples, relative to the next chunk's start) of the next output period's start. */
  private pos = 0;
  private carrySum = 0;
  private carryCount = 0;

  constructor(inRate: number, outRate = 16_000) {
    if (!(inRate > 0) || !(outRate > 0)) throw new Error("sample rates must be positive");
    this.step = inRate / outRate;
  }

  /** Upsampling: the last input sample and the next output's position after it (0 ≤ t < 1, in input samples). */
  private prev: number | undefined;
  private t = 0;

  /** Int16 samples for this chunk of float samples in [-1, 1]. */
  push(input: Float32Array): Int16Array {
    const out = this.step >= 1 ? this.down(input) : this.up(input);
    const pcm = new Int16Array(out.length);
    for (let i = 0; i < out.length; i++) pcm[i] = Math.max(-32768, Math.min(32767, Math.round(out[i]! * 32767)));
    return pcm;
  }

  private up(input: Float32Array): number[] {
    const out: number[] = [];
    for (const x of input) {
      if (this.prev === undefined) {
        this.prev = x;
        out.push(x);
        this.t = this.step;
        continue;
      }
      // Outputs between the previous sample (position 0) and this one (position 1).
      while (this.t < 1) {
        out.push(this.prev + (x - this.prev) * this.t);
        this.t += this.step;
      }
      this.t -= 1;
      this.prev = x;
    }
    return out;
  }

  private down(input: Float32Array): number[] {
    const out: number[] = [];
    let sum = this.carrySum;
    let count = this.carryCount;
    let end = this.pos + this.step;
    for (let i = 0; i < input.length; i++) {
      sum += input[i]!;
      count++;
      if (i + 1 >= end) {
        out.push(sum / count);
        sum = 0;
        count = 0;
        end += this.step;
      }
    }
    this.pos = end - this.step - input.length;
    this.carrySum = sum;
    this.carryCount = count;
    return out;
  }
}
