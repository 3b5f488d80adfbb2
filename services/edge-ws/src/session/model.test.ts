import assert from "node:assert/strict";
import { test } from "node:test";
import { nextState, STATES } from "./model";

test("state machine - the seed's happy path leads back to idle", () => {
  assert.equal(nextState("connected", "hello"), "idle");
  assert.equal(nextState("idle", "start_recording"), "recording");
  assert.equal(nextState("recording", "audio"), "recording");
  assert.equal(nextState("recording", "stop_recording"), "processing");
  assert.equal(nextState("playing", "ready_for_playback"), "playing");
});

test("state machine - illegal inputs are refused, not guessed", () => {
  assert.equal(nextState("idle", "audio"), undefined);
  assert.equal(nextState("idle", "stop_recording"), undefined);
  assert.equal(nextState("processing", "start_recording"), undefined);
  assert.equal(nextState("connected", "start_recording"), undefined);
  for (const s of STATES) assert.equal(nextState("shutdown", "ping"), undefined, s);
});

test("state machine - a stalled session recovers by recording again", () => {
  assert.equal(nextState("stalled", "start_recording"), "recording");
  assert.equal(nextState("stalled", "audio"), undefined);
  assert.equal(nextState("camera_uploading", "start_recording"), "recording");
});

test("state machine - ping is legal everywhere but shutdown", () => {
  for (const s of STATES) if (s !== "shutdown") assert.ok(nextState(s, "ping"), s);
});
