import { Listener, type ListenerEvent, type ListenerOptions } from "@hotpin/vad";
import { CORE_RATE } from "./rates";

/**
 * The `vad` turn detector's listener for one session (packages/vad): 16 kHz PCM in, turn events
 * out, handed to `onEvents` in order. fvad costs 1.3–2.0 ms of CPU per audio second (packages/vad
 * README), so it runs on the socket's event loop. The WASM VAD is created asynchronously: audio
 * that arrives before it is ready waits (at most `maxPendingMs`, then the oldest is dropped).
 */
export class VadTurns {
  private listener: Listener | undefined;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private freed = false;
  private readonly maxPendingBytes: number;
  /** Settles once the VAD is running (or failed: `onError` was told). */
  readonly ready: Promise<void>;

  constructor(
    options: ListenerOptions,
    private readonly onEvents: (events: ListenerEvent[]) => void,
    onError: (err: Error) => void,
    maxPendingMs = 2_000,
  ) {
    if (options.sampleRate !== CORE_RATE) throw new RangeError(`the session's listener runs at ${CORE_RATE} Hz`);
    this.maxPendingBytes = (maxPendingMs * CORE_RATE * 2) / 1000;
    this.ready = Listener.create(options).then(
      (listener) => {
        if (this.freed) return listener.free();
        this.listener = listener;
        const pending = Buffer.concat(this.pending);
        this.pending = [];
        if (pending.length > 0) this.deliver(listener.push(pending));
      },
      (err: Error) => onError(err),
    );
  }

  /** The user's audio at CORE_RATE, in chunks of any size. */
  push(pcm: Buffer): void {
    if (this.freed) return;
    if (this.listener) {
      this.deliver(this.listener.push(pcm));
      return;
    }
    this.pending.push(pcm);
    this.pendingBytes += pcm.length;
    while (this.pendingBytes > this.maxPendingBytes && this.pending.length > 1) {
      this.pendingBytes -= this.pending.shift()?.length ?? 0;
    }
  }

  /** The reply's first audio went to the device: barge-in is judged from now (after its first N ms). */
  playbackStarted(): void {
    this.listener?.playbackStarted();
  }

  /** The reply is over: an utterance held back during it becomes a turn now (barge-in on) or is dropped. */
  playbackEnded(): void {
    if (this.listener) this.deliver(this.listener.playbackEnded());
  }

  /** A new listening phase (after a turn the device ended itself): the pre-roll is forgotten. */
  reset(): void {
    this.listener?.reset();
  }

  free(): void {
    this.freed = true;
    this.pending = [];
    this.listener?.free();
    this.listener = undefined;
  }

  private deliver(events: ListenerEvent[]): void {
    if (events.length > 0) this.onEvents(events);
  }
}
