import assert from "node:assert/strict";
import { test } from "node:test";
import { agentState, nextState, nextUserState, onUserSpeech, STATES, type State, type UserState } from "./model";

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

test("turn reducer - the agent's side of each state", () => {
  assert.deepEqual(
    STATES.map((s) => [s, agentState(s)]),
    [
      ["connected", "idle"],
      ["idle", "idle"],
      ["recording", "listening"],
      ["processing", "thinking"],
      ["playing", "speaking"],
      ["camera_uploading", "idle"],
      ["stalled", "idle"],
      ["shutdown", "idle"],
    ],
  );
});

test("turn reducer - the user's state moves apart from the agent's: speaking while the agent speaks", () => {
  let user: UserState = "absent";
  assert.equal(nextUserState(user, "speech_started"), "absent", "no speech before the device is identified");
  user = nextUserState(user, "identified");
  assert.equal(user, "silent");
  user = nextUserState(user, "speech_started");
  assert.equal(user, "speaking");
  // The agent's state is untouched by the user's: a reply may be playing meanwhile.
  const agent: State = "playing";
  assert.equal(agentState(agent), "speaking");
  assert.equal(nextUserState(user, "speech_started"), "speaking");
  user = nextUserState(user, "speech_ended");
  assert.equal(user, "silent");
  assert.equal(nextUserState("speaking", "closed"), "absent");
});

test("turn reducer - user speech starts a turn when the agent is free, interrupts only with barge-in on", () => {
  for (const agent of ["idle", "stalled", "camera_uploading"] as const) {
    assert.equal(onUserSpeech(agent, false), "start_turn", agent);
    assert.equal(onUserSpeech(agent, true), "start_turn", agent);
  }
  for (const agent of ["processing", "playing"] as const) {
    assert.equal(onUserSpeech(agent, true), "interrupt", agent);
    assert.equal(onUserSpeech(agent, false), "ignore", `${agent}: a device that hears itself`);
  }
  for (const agent of ["connected", "recording", "shutdown"] as const)
    assert.equal(onUserSpeech(agent, true), "ignore");
});

test("turn reducer - an interruption or the device's abort ends the reply; a discarded burst ends the recording", () => {
  assert.equal(nextState("playing", "interrupted"), "idle");
  assert.equal(nextState("processing", "interrupted"), "idle");
  assert.equal(nextState("idle", "interrupted"), undefined, "nothing to interrupt");
  assert.equal(nextState("recording", "interrupted"), undefined);
  assert.equal(nextState("playing", "abort"), "idle");
  assert.equal(nextState("processing", "abort"), "idle");
  assert.equal(nextState("recording", "abort"), "recording", "abort while the user speaks has no reply to stop");
  assert.equal(nextState("connected", "abort"), undefined);
  assert.equal(nextState("recording", "speech_discarded"), "idle");
  assert.equal(nextState("idle", "speech_discarded"), undefined);
  // After an interruption the user's turn starts at once.
  assert.equal(nextState(nextState("playing", "interrupted") ?? "playing", "start_recording"), "recording");
});
