import assert from "node:assert/strict";
import { test } from "node:test";
import type { Grant } from "../auth";
import { webSocketDialects } from "../dialects/registry";
import { RecordingTransport } from "../recording-transport.test-util";
import { Connection } from "./connection";
import { memoryDeps } from "./session.test-util";

/** A spec connection (`?session=<id>`) over an in-memory transport, identified by its URL. */
function identifyAs(deviceId: string, grant: Grant = { kind: "any" }, deps = memoryDeps()) {
  const transport = new RecordingTransport();
  const url = new URL(`ws://edge/ws?session=${encodeURIComponent(deviceId)}`);
  const connection = new Connection(deps.deps, {
    transport,
    grant,
    dialect: { registry: webSocketDialects, url },
    deviceId,
    handshakeMs: 10_000,
  });
  return { session: connection.session, transport, ...deps };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

test("identification - a covered device is claimed, told `ready` once its connected event is stored, then its state", async () => {
  const { session, transport, deps, types } = identifyAs("pin.id", {
    kind: "device",
    deviceId: "pin.id",
    tokenId: "t",
  });
  assert.equal(session?.deviceId, "pin.id");
  assert.equal(session?.state, "idle");
  assert.equal(deps.devices.get("pin.id"), session);
  assert.deepEqual(types("pin.id"), ["connected"], "the move to idle is announced by `connected`");
  await settle();
  assert.deepEqual(
    transport.texts().map((m) => m.type),
    ["ready", "state_sync"],
  );
});

test("identification - a token for another device: refused, unauthorized close, nothing claimed", () => {
  const { session, transport, deps } = identifyAs("pin.other", { kind: "device", deviceId: "pin.mine", tokenId: "t" });
  assert.equal(session?.deviceId, undefined);
  assert.equal(deps.devices.get("pin.other"), undefined);
  assert.equal(transport.texts()[0]?.code, "unauthorized");
  assert.deepEqual(transport.closedWith, { reason: "unauthorized", text: "token not valid for this device" });
});

test("identification - an id outside the rule: bad_device_id and a policy close", () => {
  const { session, transport } = identifyAs("bad id with spaces");
  assert.equal(session?.deviceId, undefined);
  assert.equal(transport.texts()[0]?.code, "bad_device_id");
  assert.deepEqual(transport.closedWith, { reason: "policy", text: "bad device id" });
});

test("identification - a device whose last connection ended mid-recording is asked to record again", async () => {
  const shared = memoryDeps();
  shared.deps.devices.markInterrupted("pin.back");
  const { transport, session } = identifyAs("pin.back", { kind: "any" }, shared);
  assert.equal(session?.state, "stalled");
  await settle();
  assert.equal(transport.texts().find((m) => m.type === "request_rerecord")?.code, "disconnected");
});

test("identification - a second connection for the device replaces the first (4001)", () => {
  const shared = memoryDeps();
  const first = identifyAs("pin.twice", { kind: "any" }, shared);
  const second = identifyAs("pin.twice", { kind: "any" }, shared);
  assert.deepEqual(first.transport.closedWith, { reason: "replaced", text: "replaced by a new connection" });
  assert.equal(shared.deps.devices.get("pin.twice"), second.session);
});
