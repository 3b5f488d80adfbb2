import assert from "node:assert/strict";
import { test } from "node:test";
import { PieceTiming } from "./pocketsphinx-timing";

test("stt pocketsphinx timing - each voiced run of a piece keeps its own stream offset", () => {
  const timing = new PieceTiming();
  // Run 1: heard from stream frame 40, 200 frames decoded; run 2 heard from stream frame 500.
  timing.runEnded(40, 200);
  const finalOffset = 500;
  // The library reports piece frame + the last run's offset for every word.
  assert.equal(timing.streamFrame(10 + finalOffset, finalOffset), 50);
  assert.equal(timing.streamFrame(199 + finalOffset, finalOffset), 239);
  assert.equal(timing.streamFrame(200 + finalOffset, finalOffset), 500);
  assert.equal(timing.streamFrame(230 + finalOffset, finalOffset), 530);
});

test("stt pocketsphinx timing - a piece with one run keeps the library's frames", () => {
  assert.equal(new PieceTiming().streamFrame(417, 417), 417);
  assert.equal(new PieceTiming().streamFrame(480, 417), 480);
});
