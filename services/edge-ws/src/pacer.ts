import type { Transport } from "./transport";

export interface PaceOptions {
  /** Bytes per second the device plays (32000 for 16 kHz mono PCM16). */
  bytesPerSecond: number;
  /** How far ahead of real-time playback the sender may run, in ms. */
  leadMs: number;
  /** Pause while the socket holds more than this many unsent bytes. */
  highWaterBytes: number;
  now?: () => number;
  /** Stop early (device gone, session replaced). */
  signal?: AbortSignal;
  /** Sends one frame; default transport.sendBinary (a dialect may put a header frame first). */
  send?: (frame: Buffer) => void;
  /** Called once, just before the first frame goes out. */
  onFirstFrame?: () => void;
}

/**
 * Sends frames no faster than the device can absorb: never more than `leadMs` of audio ahead
 * of the playback clock (the firmware buffers 320 KB and drops what it cannot buffer within
 * 1 s), and never more than `highWaterBytes` queued in the socket. Memory stays bounded
 * because the caller's frames are slices of one buffer.
 */
export async function sendPaced(transport: Transport, frames: Iterable<Buffer>, opts: PaceOptions): Promise<number> {
  const now = opts.now ?? Date.now;
  const lead = (opts.bytesPerSecond * opts.leadMs) / 1000;
  let started: number | undefined;
  let sent = 0;
  for (const frame of frames) {
    if (opts.signal?.aborted || !transport.open) break;
    started ??= now();
    const allowed = lead + ((now() - started) * opts.bytesPerSecond) / 1000;
    if (sent + frame.length > allowed) {
      const waitMs = ((sent + frame.length - allowed) * 1000) / opts.bytesPerSecond;
      await delay(waitMs, opts.signal);
    }
    if (transport.bufferedAmount > opts.highWaterBytes) await transport.flushed();
    if (opts.signal?.aborted || !transport.open) break;
    if (sent === 0) opts.onFirstFrame?.();
    if (opts.send) opts.send(frame);
    else transport.sendBinary(frame);
    sent += frame.length;
  }
  return sent;
}

export function* frames(data: Buffer, size: number): Generator<Buffer> {
  for (let at = 0; at < data.length; at += size) yield data.subarray(at, Math.min(at + size, data.length));
}

function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

/**
 * Real-time pacing for devices that play what arrives with no buffer to speak of (Sesame-style,
 * docs/protocols/sesame.md): one clock for a whole reply tracks when the device will have played
 * everything sent, so a pause between sentences (TTS still speaking) adds no lead, and a frame
 * goes only when at most `leadMs` is still queued there.
 */
export class PlayClock {
  private playsUntil = 0;

  constructor(
    private readonly leadMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Waits until a frame of `frameMs` may go, then books it; false when `signal` aborted first. */
  async book(frameMs: number, signal?: AbortSignal): Promise<boolean> {
    const waitMs = this.playsUntil - this.now() - this.leadMs;
    if (waitMs > 0) await delay(waitMs, signal);
    if (signal?.aborted) return false;
    this.playsUntil = Math.max(this.playsUntil, this.now()) + frameMs;
    return true;
  }

  /** Waits until the device has played everything booked (or `signal` aborts). */
  async drained(signal?: AbortSignal): Promise<void> {
    const waitMs = this.playsUntil - this.now();
    if (waitMs > 0 && !signal?.aborted) await delay(waitMs, signal);
  }
}
