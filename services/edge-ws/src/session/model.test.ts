import assert from "node:assert/strict";
import { test } from "node:test";
import { agentState, nextState, STATES, userState } from "./model";

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

test("turn reducer - the session's own events move only from the states they can happen in", () => {
  assert.equal(nextState("connected", "identified"), "idle");
  assert.equal(nextState("idle", "identified"), undefined);
  assert.equal(nextState("recording", "recording_stalled"), "stalled");
  assert.equal(nextState("processing", "reply_started"), "playing");
  assert.equal(nextState("idle", "reply_started"), "playing", "say from idle");
  assert.equal(nextState("recording", "reply_started"), undefined, "no speech over the user");
  assert.equal(nextState("playing", "reply_done"), "idle");
  assert.equal(nextState("processing", "reply_done"), "idle", "a failure without an apology");
  assert.equal(nextState("processing", "rerecord"), "stalled");
  assert.equal(nextState("playing", "rerecord"), undefined);
  assert.equal(nextState("stalled", "intervention"), "idle");
  assert.equal(nextState("camera_uploading", "image_received"), "idle");
  assert.equal(nextState("idle", "image_received"), undefined);
  for (const s of STATES) assert.equal(nextState(s, "closed"), "shutdown", s);
});

test("turn reducer - user and agent state apart", () => {
  assert.deepEqual(
    STATES.map((s) => [s, userState(s), agentState(s)]),
    [
      ["connected", "absent", "idle"],
      ["idle", "silent", "idle"],
      ["recording", "speaking", "listening"],
      ["processing", "silent", "thinking"],
      ["playing", "silent", "speaking"],
      ["camera_uploading", "silent", "idle"],
      ["stalled", "silent", "idle"],
      ["shutdown", "absent", "idle"],
    ],
  );
});
