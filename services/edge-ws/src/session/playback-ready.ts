/**
 * The device's `ready_for_playback` for the reply about to play: cleared when a new turn or
 * operator speech begins, set when the device says it, awaited (bounded) by the playback.
 */
export class PlaybackReady {
  private ready = false;
  private waiter: (() => void) | undefined;

  /** A new reply is coming: the device must say ready again. */
  clear(): void {
    this.ready = false;
  }

  /** The device said ready_for_playback. */
  set(): void {
    this.ready = true;
    this.waiter?.();
  }

  /** True once the device is ready (or already was), or `signal` aborted; false after `timeoutMs`. */
  wait(timeoutMs: number, signal: AbortSignal): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      if (this.ready) return resolve(true);
      // Every way out removes what it added: a session waits once per reply, for hours.
      const done = (ready: boolean) => {
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        if (this.waiter === onReady) this.waiter = undefined;
        resolve(ready);
      };
      const onReady = () => done(true);
      const onAbort = () => done(true); // playback sees the abort itself
      const timer = setTimeout(() => done(false), timeoutMs);
      this.waiter = onReady;
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }
}
