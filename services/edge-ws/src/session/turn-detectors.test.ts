import assert from "node:assert/strict";
import { mock, test } from "node:test";
import { readEdgeConfig } from "../config";
import { explicitStop, oneShot, QuietTimer, stopOrSilence } from "./turn-detectors";

const cfg = readEdgeConfig({
  HOTPIN_EDGE_CHUNK_TIMEOUT_MS: "5000",
  HOTPIN_EDGE_FIRMWARE_SILENCE_MS: "3000",
  HOTPIN_EDGE_DAP1_TRANSFER_TIMEOUT_MS: "15000",
});

test("turn detectors - each dialect's strategy: how a turn starts and what quiet means", () => {
  assert.deepEqual([explicitStop.startsOnAudio, explicitStop.quiet(cfg)], [false, { ms: 5000, decision: "stall" }]);
  assert.deepEqual([stopOrSilence.startsOnAudio, stopOrSilence.quiet(cfg)], [true, { ms: 3000, decision: "process" }]);
  assert.deepEqual([oneShot.startsOnAudio, oneShot.quiet(cfg)], [true, { ms: 15000, decision: "close" }]);
});

test("turn detectors - the quiet timer fires once after the last chunk, never after stop", (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const fired = mock.fn();
  const timer = new QuietTimer(3000, fired);
  t.mock.timers.tick(2999);
  timer.touch(); // a chunk
  t.mock.timers.tick(2999);
  assert.equal(fired.mock.callCount(), 0);
  t.mock.timers.tick(1);
  assert.equal(fired.mock.callCount(), 1);
  const stopped = mock.fn();
  const other = new QuietTimer(3000, stopped);
  other.stop();
  t.mock.timers.tick(10_000);
  assert.equal(stopped.mock.callCount(), 0);
});
