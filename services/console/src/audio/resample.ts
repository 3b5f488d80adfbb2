/**
 * Streaming conversion of float samples at any rate to 16-bit PCM at `outRate` (16 kHz for the
 * mesh): each output sample is the mean of the input samples its period covers (a box filter
 * that keeps most aliasing out when going down from 44.1/48 kHz) and the result is clipped to
 * int16. Keeps its fractional position between calls, so chunks of any size join seamlessly.
 * Shared by the browser's virtual device and the unit tests.
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

  /** Int16 samples for this chunk of float samples in [-1, 1]. */
  push(input: Float32Array): Int16Array {
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
    const pcm = new Int16Array(out.length);
    for (let i = 0; i < out.length; i++) pcm[i] = Math.max(-32768, Math.min(32767, Math.round(out[i]! * 32767)));
    return pcm;
  }
}
