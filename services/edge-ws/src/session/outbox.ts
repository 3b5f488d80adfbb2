import type { Dialect, PlaybackControl, PlaybackResult, Reply } from "../dialects/dialect";
import type { Output } from "./model";

/**
 * The session's only way to the device: every output and every playback goes through here, in
 * the order the session asked for them. A milestone output waits until the events before it
 * are stored (`confirmed`); outputs asked for after it queue behind it; playback starts only
 * once everything queued before it has gone. With nothing queued an output is written at once,
 * from the socket's own callback (the firmware gives up on an ACK after 1000 ms).
 */
export class Outbox {
  private queued: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly dialect: Dialect,
    /** Resolves once every event published so far is stored (bounded by the caller). */
    private readonly milestone: () => Promise<void>,
  ) {}

  send(out: Output): void {
    if (this.closed) return;
    if (this.queued) void this.after(Promise.resolve(), out);
    else this.dialect.send(out);
  }

  /** A message that proves events happened: sent once they are stored, in order. */
  confirmed(out: Output): Promise<void> {
    return this.after(this.milestone(), out);
  }

  /** Sends `out` once `ready` settles and every output queued before it has gone. */
  after(ready: Promise<void>, out: Output): Promise<void> {
    const sent = Promise.all([this.queued, ready]).then(() => {
      if (!this.closed) this.dialect.send(out);
    });
    this.queued = sent;
    // A failed write fails every output queued behind it, and whoever awaits one hears of it;
    // an output nobody awaits (`send`, the transcript) must not become an unhandled rejection.
    sent.then(
      () => {
        if (this.queued === sent) this.queued = undefined;
      },
      () => {},
    );
    return sent;
  }

  /** Resolves when every queued output has been sent. */
  idle(): Promise<void> {
    return this.queued ?? Promise.resolve();
  }

  /** Plays a reply after every output queued before it. */
  async play(reply: Reply, ctl: PlaybackControl): Promise<PlaybackResult> {
    await this.idle();
    return this.dialect.play(reply, ctl);
  }

  /** The connection ended: nothing more is written. */
  close(): void {
    this.closed = true;
  }
}
