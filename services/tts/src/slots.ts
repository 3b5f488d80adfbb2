/**
 * A fixed number of synthesis slots. There is no queue on purpose: a caller that finds every
 * slot taken is refused at once (RESOURCE_EXHAUSTED) and can try another replica.
 */
export class Slots {
  private used = 0;
  private waiters: Array<() => void> = [];

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError("capacity must be a positive integer");
  }

  get active(): number {
    return this.used;
  }

  /** A release function (safe to call twice), or undefined when every slot is taken. */
  tryAcquire(): (() => void) | undefined {
    if (this.used >= this.capacity) return undefined;
    this.used++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.used--;
      if (this.used === 0) for (const w of this.waiters.splice(0)) w();
    };
  }

  /** Resolves when no slot is in use (for shutdown and tests). */
  idle(): Promise<void> {
    if (this.used === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}
