/**
 * Cuts PCM16 LE bytes, however they are chunked, into frames of a fixed number of samples.
 * Samples are taken in the machine's byte order, little-endian on every platform Node serves here.
 */
export class FrameSplitter {
  private readonly frame: Int16Array;
  private readonly pending: Buffer;
  private filled = 0;

  constructor(readonly frameSamples: number) {
    this.frame = new Int16Array(frameSamples);
    this.pending = Buffer.from(this.frame.buffer);
  }

  /** Every frame now complete, each a fresh copy; a trailing partial frame waits for more bytes. */
  push(pcm: Buffer): Int16Array[] {
    const frames: Int16Array[] = [];
    let offset = 0;
    while (offset < pcm.length) {
      const n = Math.min(this.pending.length - this.filled, pcm.length - offset);
      pcm.copy(this.pending, this.filled, offset, offset + n);
      this.filled += n;
      offset += n;
      if (this.filled === this.pending.length) {
        frames.push(this.frame.slice());
        this.filled = 0;
      }
    }
    return frames;
  }

  reset(): void {
    this.filled = 0;
  }
}

/** Level of a frame in dB relative to full scale (RMS); -Infinity for digital silence. */
export function frameDbfs(frame: Int16Array): number {
  let sum = 0;
  for (const s of frame) sum += s * s;
  return 10 * Math.log10(sum / (frame.length || 1) / (32768 * 32768));
}

export function frameBytes(frame: Int16Array): Buffer {
  return Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
}
