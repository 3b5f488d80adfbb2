import type { Logger } from "@hotpin/runtime";

export type AttachStep = [name: string, run: () => Promise<void>];

/**
 * Runs each step in order, retrying a failed one (backoff doubling from `firstMs` to 30 s)
 * until it succeeds: a stream or bucket call may fail after NATS connected (JetStream still
 * electing a leader, a permission fixed later), and a replica must not stay half attached.
 */
export async function attachUntilDone(
  log: Logger,
  steps: AttachStep[],
  firstMs = 1_000,
  stopped: () => boolean = () => false,
): Promise<void> {
  for (const [name, step] of steps) {
    for (let backoff = firstMs; !stopped(); backoff = Math.min(backoff * 2, 30_000)) {
      try {
        await step();
        break;
      } catch (err) {
        log.warn({ err, step: name, retryInMs: backoff }, "nats attach step failed, retrying");
        await new Promise((r) => setTimeout(r, backoff));
      }
    }
  }
}
