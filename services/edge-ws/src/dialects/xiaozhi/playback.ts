// Reply audio for a xiaozhi device: PCM resampled once to the announced rate, cut into frames of
// exactly the announced length, Opus-encoded off the event loop and paced as the reference
// server does (docs/protocols/xiaozhi.md §4, §7.3).
import { type OpusEncoder, pcmSamples, Resampler } from "@hotpin/audio";
import type { Transport } from "../../transport";

export interface PaceClock {
  now(): number;
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

export const realClock: PaceClock = {
  now: () => performance.now(),
  sleep: (ms, signal) =>
    new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener("abort", done, { once: true });
    }),
};

/**
 * When packet n of a run may go: the first `burst` at once, then one per frame time from the
 * run's start on a monotonic clock, never ahead. A run restarts (another burst) once the device
 * has played everything sent, i.e. its queue ran dry while the next sentence was synthesised.
 */
export class FramePacer {
  private base = 0;
  private sent = 0;

  constructor(
    private readonly frameMs: number,
    private readonly burst: number,
    private readonly clock: Pick<PaceClock, "now">,
  ) {}

  /** Milliseconds to wait before the next packet. */
  wait(): number {
    const now = this.clock.now();
    if (this.sent === 0 || now >= this.base + this.sent * this.frameMs) {
      this.base = now;
      this.sent = 0;
    }
    return Math.max(0, this.base + Math.max(0, this.sent - this.burst) * this.frameMs - now);
  }

  sentOne(): void {
    this.sent++;
  }
}

/** Frames of exactly `frameSamples` from a PCM stream at `inputRate`, resampled to the encoder's rate. */
export class FrameCutter {
  private readonly resampler: Resampler;
  private carry = new Int16Array(0);

  constructor(
    inputRate: number,
    outputRate: number,
    private readonly frameSamples: number,
  ) {
    this.resampler = new Resampler(inputRate, outputRate);
  }

  push(pcm: Buffer): Int16Array[] {
    return this.cut(this.resampler.push(pcmSamples(pcm)), false);
  }

  /** The rest, the last frame padded with silence. */
  flush(): Int16Array[] {
    return this.cut(this.resampler.flush(), true);
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

export interface OpusSender {
  transport: Transport;
  encoder: OpusEncoder;
  pacer: FramePacer;
  clock: PaceClock;
  signal: AbortSignal;
  highWaterBytes: number;
  /** The binary message for one packet (v1 bare, v2/v3 with a header). */
  frame(opus: Buffer): Buffer;
  onFirstPacket(): void;
}

/** Encodes and sends frames in order; false once stopped (abort, socket gone). */
export async function sendFrames(s: OpusSender, frames: Int16Array[], first: { sent: boolean }): Promise<boolean> {
  for (const pcm of frames) {
    if (s.signal.aborted || !s.transport.open) return false;
    const packet = await s.encoder.encodeAsync(pcm);
    const wait = s.pacer.wait();
    if (wait > 0) await s.clock.sleep(wait, s.signal);
    if (s.transport.bufferedAmount > s.highWaterBytes) await s.transport.flushed();
    if (s.signal.aborted || !s.transport.open) return false;
    if (!first.sent) s.onFirstPacket();
    first.sent = true;
    s.transport.sendBinary(s.frame(packet));
    s.pacer.sentOne();
  }
  return true;
}
