import assert from "node:assert/strict";
import { createServer, connect as netConnect, type Socket } from "node:net";
import { mock, test } from "node:test";
import { firmware } from "../dialects/firmware";
import { webSocketDialects } from "../dialects/registry";
import { RecordingTransport } from "../recording-transport.test-util";
import { Connection, type ConnectionOptions } from "./connection";
import { memoryDeps } from "./session.test-util";

/** A connection over an in-memory transport: detection, the handshake timeout, the end. */
function connect(opts: Partial<ConnectionOptions> = {}, env: NodeJS.ProcessEnv = {}) {
  const { deps, types } = memoryDeps(env);
  const transport = new RecordingTransport();
  let identified = 0;
  const connection = new Connection(deps, {
    transport,
    grant: { kind: "any" },
    dialect: { registry: webSocketDialects, url: new URL("ws://edge/ws") },
    handshakeMs: 10_000,
    onIdentified: () => identified++,
    ...opts,
  });
  return { connection, transport, deps, types, identified: () => identified };
}

test("connection - the first frame names the dialect, and the session takes that frame", () => {
  const { connection, transport, identified } = connect();
  const session = () => connection.session;
  assert.equal(session(), undefined);
  transport.receive(JSON.stringify({ session_id: "pin.first" }));
  assert.equal(session()?.dialect.name, "firmware");
  assert.equal(session()?.deviceId, "pin.first");
  assert.equal(identified(), 1);
  transport.receive(JSON.stringify({ signal: "EOS" }));
  assert.equal(identified(), 1, "told once");
});

test("connection - a first frame that is no dialect's handshake: bad_message, closed by policy", () => {
  const { connection, transport } = connect();
  transport.receive(Buffer.from([1, 2, 3]));
  assert.equal(connection.session, undefined);
  assert.deepEqual(transport.texts(), [
    { type: "error", status: "error", code: "bad_message", message: "expected a handshake" },
  ]);
  assert.deepEqual(transport.closedWith, { reason: "policy", text: "expected a handshake" });
});

test("connection - the URL names the dialect and the device: the session opens and identifies at once", () => {
  const { connection, identified } = connect({
    dialect: { registry: webSocketDialects, url: new URL("ws://edge/ws?session=pin.url") },
    deviceId: "pin.url",
  });
  assert.equal(connection.session?.dialect.name, "spec");
  assert.equal(connection.session?.deviceId, "pin.url");
  assert.equal(identified(), 1);
});

test("connection - a client that says nothing is the registry's silent dialect after the detect wait, then closed without a handshake", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const { deps, connection, transport } = connect({ handshakeMs: 5_000 }, { HOTPIN_EDGE_DETECT_MS: "300" });
  const session = () => connection.session;
  t.mock.timers.tick(299);
  assert.equal(session(), undefined);
  t.mock.timers.tick(1);
  assert.equal(session()?.dialect.name, "spec");
  assert.deepEqual(transport.texts()[0], { type: "ready", session: "", session_id: session()?.id });
  t.mock.timers.tick(5_000);
  assert.deepEqual(transport.closedWith, { reason: "no_handshake", text: "no handshake" });
  const refused = (await deps.metrics.refused.get()).values.find((v) => v.labels.reason === "no_handshake");
  assert.equal(refused?.value, 1);
});

test("connection - a named dialect opens at once; the transport's end ends the session with its code", async () => {
  const { connection, transport, deps, types } = connect({ dialect: firmware });
  const session = connection.session;
  assert.equal(session?.dialect.name, "firmware");
  transport.receive(JSON.stringify({ session_id: "pin.end" }));
  assert.equal(deps.devices.get("pin.end"), session);
  transport.close("policy", "test");
  await transport.closed();
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(deps.devices.get("pin.end"), undefined);
  assert.equal(types("pin.end").at(-1), "disconnected");
});

test("connection - a session that throws costs its connection only", () => {
  const { connection, transport } = connect({ dialect: firmware });
  const session = connection.session;
  assert.ok(session);
  mock.method(session, "text", () => {
    throw new Error("a bug");
  });
  transport.receive("{}");
  assert.deepEqual(transport.closedWith, { reason: "internal", text: "internal error" });
});

test("connection - a first frame that arrived while the loop was busy past the detect wait still names the dialect", async (t) => {
  // A real socket, so the frame waits in the kernel while this test holds the loop, as in a connect storm.
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(() => server.close());
  const accepted = new Promise<Socket>((resolve) => server.once("connection", resolve));
  const port = (server.address() as { port: number }).port;
  const client = netConnect(port, "127.0.0.1");
  t.after(() => client.destroy());
  const socket = await accepted;
  t.after(() => socket.destroy());
  const { connection, transport } = connect({}, { HOTPIN_EDGE_DETECT_MS: "5" });
  socket.on("data", (data) => transport.receive(data.toString("utf8")));
  client.write(JSON.stringify({ session_id: "pin.storm" }));
  const busyUntil = Date.now() + 50;
  while (Date.now() < busyUntil) {
    // the loop is busy: the detect timer expires and the frame is waiting
  }
  for (let i = 0; i < 200 && !connection.session; i++) await new Promise((resolve) => setImmediate(resolve));
  assert.equal(connection.session?.dialect.name, "firmware", "not greeted as the silent dialect");
  assert.equal(connection.session?.deviceId, "pin.storm");
  assert.deepEqual(
    transport.texts().map((m) => m.type),
    [undefined],
    "only the firmware's own reply went out, no `ready` greeting",
  );
});
