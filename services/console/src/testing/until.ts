import assert from "node:assert/strict";

/** Polls `read` until `ok` holds; fails after `timeoutMs` with the last value seen. */
export async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await read();
    if (ok(last)) return last;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`condition not met within ${timeoutMs} ms; last: ${JSON.stringify(last)}`);
}
