/**
 * Reply PCM cut into frames of exactly the announced length (docs/protocols/xiaozhi.md §4: the
 * device's decoder holds one frame, so a packet must never be longer), carrying the remainder
 * of one sentence into the next; the last frame of the reply is padded with silence.
 */
export class FrameCutter {
  private carry = new Int16Array(0);

  constructor(private readonly frameSamples: number) {}

  push(samples: Int16Array): Int16Array[] {
    return this.cut(samples, false);
  }

  flush(): Int16Array[] {
    return this.cut(new Int16Array(0), true);
  }

  private cut(samples: Int16Array, last: boolean): Int16Array[] {
    const all = new Int16Array(this.carry.length + samples.length);
    all.set(this.carry);
    all.set(samples, this.carry.length);
    const frames: Int16Array[] = [];
    let at = 0;
    for (; at + this.frameSamples <= all.length; at += this.frameSamples) {
      frames.push(all.slice(at, at + this.frameSamples));
    }
    this.carry = all.slice(at);
    if (last && this.carry.length > 0) {
      const padded = new Int16Array(this.frameSamples);
      padded.set(this.carry);
      frames.push(padded);
      this.carry = new Int16Array(0);
    }
    return frames;
  }
}
