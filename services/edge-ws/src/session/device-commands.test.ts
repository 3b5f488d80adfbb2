import assert from "node:assert/strict";
import { test } from "node:test";
import { firmware } from "../dialects/firmware";
import { spec } from "../dialects/spec";
import { RecordingTransport } from "../recording-transport.test-util";
import { CommandError } from "./device-commands";
import { Session } from "./session";
import { memoryDeps } from "./session.test-util";

/** A session over an in-memory transport, identified when `deviceId` is given. */
function device(deviceId?: string, module = spec) {
  const { deps, cleared } = memoryDeps();
  const transport = new RecordingTransport();
  const session = new Session(deps, module.create(transport, { cfg: deps.cfg, speech: deps.apologies }), transport, {
    kind: "any",
  });
  session.start(deviceId);
  return { session, transport, deps, cleared };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));
const refusedWith = (code: CommandError["code"]) => (err: unknown) => err instanceof CommandError && err.code === code;

test("commands - before the device identifies: say is busy, reset a bad request, state says connected", async () => {
  const { session } = device(undefined, firmware);
  await assert.rejects(session.say("hi"), refusedWith("busy"));
  await assert.rejects(session.resetConversation(), refusedWith("bad_request"));
  assert.throws(() => session.requestRerecord(), refusedWith("busy"));
  assert.equal(session.snapshot().state, "connected");
});

test("commands - rerecord asks an idle device to record again (operator, attempt 1); refused while recording", async () => {
  const { session, transport } = device("pin.cmd");
  session.requestRerecord();
  assert.equal(session.state, "stalled");
  await settle();
  assert.deepEqual(transport.texts().at(-2), {
    type: "request_rerecord",
    reason: transport.texts().at(-2)?.reason,
    code: "operator",
    attempt: 1,
  });
  session.text(JSON.stringify({ type: "recording_started" }));
  assert.equal(session.state, "recording");
  assert.throws(() => session.requestRerecord(), refusedWith("busy"));
  await assert.rejects(session.say("hi"), refusedWith("busy"));
});

test("commands - a reset with storage down fails and says so (the image is kept); snapshot reports the session", async () => {
  const { session, transport, cleared, deps } = device("pin.reset");
  // No storage peer here: the history cannot be cleared, so neither is the pending image.
  await assert.rejects(session.resetConversation(), refusedWith("failed"));
  assert.deepEqual(cleared, []);
  assert.equal(transport.texts().at(-1)?.code, "storage_failed");
  assert.deepEqual(session.snapshot(), {
    deviceId: "pin.reset",
    sessionId: session.id,
    dialect: "spec",
    state: "idle",
    edgeInstance: deps.cfg.instance,
    utterances: 0,
  });
});

test("commands - disconnect closes normally with the operator's (cleaned) reason and ends the session", () => {
  const { session, transport, deps } = device("pin.bye");
  session.disconnect("maintenance\u0000 window");
  assert.equal(transport.closedWith?.reason, "normal");
  assert.ok(transport.closedWith?.text.startsWith("maintenance"));
  assert.equal(deps.devices.get("pin.bye"), undefined);
});
