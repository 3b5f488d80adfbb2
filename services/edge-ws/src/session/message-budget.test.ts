import assert from "node:assert/strict";
import { test } from "node:test";
import { MessageBudget } from "./message-budget";
import { PlaybackReady } from "./playback-ready";

test("message budget - a burst up to the rate passes, the next is refused until the bucket refills", () => {
  let now = 1_000;
  const budget = new MessageBudget(3, () => now);
  assert.deepEqual([budget.take(), budget.take(), budget.take(), budget.take()], [true, true, true, false]);
  now += 333; // 0.999 of a token
  assert.equal(budget.take(), false);
  now += 1;
  assert.equal(budget.take(), true);
  now += 60_000; // a long pause refills to the rate, never beyond
  assert.deepEqual([budget.take(), budget.take(), budget.take(), budget.take()], [true, true, true, false]);
});

test("playback ready - resolves once the device is ready, false on timeout, true on abort", async () => {
  const ready = new PlaybackReady();
  const abort = new AbortController();
  const waiting = ready.wait(60_000, abort.signal);
  ready.set();
  assert.equal(await waiting, true);
  assert.equal(await ready.wait(60_000, abort.signal), true, "already ready");
  ready.clear();
  assert.equal(await ready.wait(5, abort.signal), false, "the device never said ready");
  const aborted = ready.wait(60_000, abort.signal);
  abort.abort();
  assert.equal(await aborted, true, "playback sees the abort itself");
});
