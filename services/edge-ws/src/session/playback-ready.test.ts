import assert from "node:assert/strict";
import { test } from "node:test";
import { PlaybackReady } from "./playback-ready";

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
