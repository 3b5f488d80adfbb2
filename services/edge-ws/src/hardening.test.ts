import assert from "node:assert/strict";
import { getEventListeners } from "node:events";
import { connect as tcpConnect } from "node:net";
import { after, before, test } from "node:test";
import { edge as edgeContract, events } from "@hotpin/contracts";
import { commandSubject, createLogger, createRegistry, eventSubject, subjectToken } from "@hotpin/runtime";
import { startNats, type TestNats } from "@hotpin/test-support";
import { jetstream } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { decodeJwt } from "jose";
import { WebSocket } from "ws";
import { issueToken } from "./auth";
import { sendCommand } from "./commands/send-command";
import { EventPublisher } from "./events";
import { openRevocations, revokeToken } from "./fleet/revocations";
import { createEdgeMetrics } from "./metrics";
import { SECRET, STATIC_TOKEN, startEdge, startPeers, TestDevice, tone } from "./test-peers.test-util";

/**
 * Issue 13's edge findings, each reproduced against one in-process edge on a real NATS server in
 * front of contract-speaking gRPC peers: every one of these failed before its fix.
 */
let nats: TestNats;
let nc: NatsConnection;
let peers: Awaited<ReturnType<typeof startPeers>>;
let edge: Awaited<ReturnType<typeof startEdge>>;
const bearer = { authorization: `Bearer ${STATIC_TOKEN}` };

before(async () => {
  nats = await startNats();
  nc = await connect({ servers: nats.url });
  peers = await startPeers({ transcript: "hello there", llm: "ok", ttsFails: false });
  edge = await startEdge(
    peers.address,
    {
      HOTPIN_EDGE_MAX_PENDING_PER_ADDRESS: "3",
      HOTPIN_EDGE_MAX_PENDING_PER_TOKEN: "3",
      HOTPIN_EDGE_HEADERS_TIMEOUT_MS: "600",
      HOTPIN_EDGE_DOWNLOADS_PER_MINUTE: "5",
      HOTPIN_EDGE_MAX_OBSERVERS_PER_TOKEN: "2",
      HOTPIN_EDGE_OBSERVER_TOKENS: "observer-token-for-tests",
    },
    nats.url,
  );
});
after(async () => {
  await edge?.stop();
  peers?.stop();
  await nc?.close();
  await nats?.[Symbol.asyncDispose]();
});

async function firmware(id: string, headers: Record<string, string> = bearer) {
  const d = new TestDevice(edge.url, headers);
  await d.opened;
  d.send({ session_id: id });
  return d;
}

async function exchange(d: TestDevice) {
  for (let i = 0; i < 4; i++) {
    d.ws.send(tone(4096));
    if (i % 2 === 1) await d.until((m) => m.status === "receiving");
  }
  d.send({ signal: "EOS" });
  await d.until((m) => m.status === "complete");
}

test("hardening - a 4 KB device id is a protocol error at every entry point, and the replica keeps serving", async () => {
  const long = "x".repeat(4096);
  const fw = await firmware(long);
  const err = await fw.until((m) => m.status === "error");
  assert.equal(err.error_type, "bad_device_id");
  fw.ws.close();
  await assert.rejects(new TestDevice(`${edge.url}?session=${long}&token=${STATIC_TOKEN}`).opened, /HTTP 400/);
  const spec = new TestDevice(`${edge.url}`, bearer);
  await spec.opened;
  spec.send({ type: "hello", session: "has space" });
  assert.equal((await spec.until((m) => m.type === "error")).code, "bad_device_id");
  spec.ws.close();
  const obs = new WebSocket(`${edge.http.replace("http", "ws")}/events?device=${long}`, {
    headers: { authorization: "Bearer observer-token-for-tests" },
  });
  const status = await new Promise<number>((r) => obs.once("unexpected-response", (_q, res) => r(res.statusCode ?? 0)));
  assert.equal(status, 400);
  // NATS still works for this replica: a normal device's exchange and a command both go through.
  const ok = await firmware("pin-after-long");
  await ok.until((m) => m.status === "connected");
  await exchange(ok);
  const reply = await sendCommand(nc, "pin-after-long", { $case: "getState", value: {} }, 5_000);
  assert.equal(reply.ok, true);
  ok.ws.close();
});

test("hardening - the longest, most punctuated valid id gets short subjects and is served end to end", async () => {
  const id = "!#$%&'()*+,-./:;<=>?@[]^_`{|}~".repeat(5).slice(0, 128);
  assert.ok(commandSubject(id).length < 40);
  const sub = nc.subscribe(`hotpin.events.${subjectToken(id)}.connected`, { max: 1 });
  const d = await firmware(id);
  await d.until((m) => m.status === "connected");
  for await (const m of sub) assert.equal(events.Event.decode(m.data).deviceId, id);
  const reply = await sendCommand(nc, id, { $case: "getState", value: {} }, 5_000);
  assert.equal(reply.state?.deviceId, id);
  d.ws.close();
});

test("hardening - a command whose device id differs from its subject is refused", async () => {
  const d = await firmware("pin-cmd-target");
  await d.until((m) => m.status === "connected");
  const held = await firmware("pin-cmd-held");
  await held.until((m) => m.status === "connected");
  // Sent on pin-cmd-held's subject (which this requester may be allowed) but naming pin-cmd-target.
  const data = edgeContract.Command.encode({
    deviceId: "pin-cmd-target",
    command: { $case: "disconnect", value: { reason: "" } },
  }).finish();
  const msg = await nc.request(commandSubject("pin-cmd-held"), data, { timeout: 5_000 });
  const reply = edgeContract.CommandReply.decode(msg.data);
  assert.deepEqual([reply.ok, reply.errorCode], [false, "bad_request"]);
  assert.equal(d.ws.readyState, WebSocket.OPEN, "the other device was not touched");
  d.ws.close();
  held.ws.close();
});

test("hardening - sockets that never identify are capped per address; an identified one frees its slot", async () => {
  const silent: TestDevice[] = [];
  for (let i = 0; i < 3; i++) {
    const s = new TestDevice(edge.url, bearer);
    await s.opened;
    silent.push(s);
  }
  await assert.rejects(new TestDevice(edge.url, bearer).opened, /HTTP 429/);
  silent[0]?.send({ session_id: "pin-now-known" });
  await silent[0]?.until((m) => m.status === "connected");
  const next = new TestDevice(edge.url, bearer);
  await next.opened;
  for (const s of [...silent, next]) s.ws.close();
  await Promise.all([...silent, next].map((s) => s.closed));
});

test("hardening - slow HTTP headers are cut off within the headers timeout", async () => {
  const port = Number(new URL(edge.http).port);
  const started = Date.now();
  await new Promise<void>((resolve, reject) => {
    const s = tcpConnect(port, "127.0.0.1", () => s.write("GET /download/x HTTP/1.1\r\nHost: x\r\n"));
    s.resume();
    s.on("close", () => resolve());
    s.on("error", () => resolve());
    setTimeout(() => reject(new Error("still open after 10 s")), 10_000).unref();
  });
  assert.ok(Date.now() - started < 5_000, `held ${Date.now() - started} ms`);
});

test("hardening - /download checks the token's exact shape before storage, and rate-limits an address", async () => {
  const statuses: number[] = [];
  for (const t of ["short", "x".repeat(44), "a".repeat(43), "b".repeat(43), "c".repeat(43), "d".repeat(43)]) {
    statuses.push((await fetch(`${edge.http}/download/${t}`)).status);
  }
  assert.deepEqual(statuses, [404, 404, 404, 404, 404, 429]);
});

test("hardening - /events: one token holds at most its cap of observers", async () => {
  const headers = { authorization: "Bearer observer-token-for-tests" };
  const url = `${edge.http.replace("http", "ws")}/events`;
  const open = (): Promise<WebSocket | number> =>
    new Promise((resolve) => {
      const ws = new WebSocket(url, { headers });
      ws.once("open", () => resolve(ws));
      ws.once("unexpected-response", (_q, res) => resolve(res.statusCode ?? 0));
    });
  const first = await open();
  const second = await open();
  assert.equal(await open(), 429);
  for (const w of [first, second]) if (typeof w !== "number") w.close();
});

test("hardening - a close reason with NUL and control characters leaves the edge cleaned and bounded", async () => {
  const d = await firmware("pin-close-reason");
  await d.until((m) => m.status === "connected");
  d.ws.close(4000, `bye\0\x1b[2J${"é".repeat(50)}`);
  await d.closed;
  const deadline = Date.now() + 5_000;
  let reason: string | undefined;
  while (reason === undefined && Date.now() < deadline) {
    const e = edge.events.find((x) => x.deviceId === "pin-close-reason" && x.payload.$case === "disconnected");
    if (e?.payload.$case === "disconnected") reason = e.payload.value.reason;
    else await new Promise((r) => setTimeout(r, 20));
  }
  assert.ok(reason !== undefined);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: asserting their absence
  assert.doesNotMatch(reason, /[\u0000-\u001f]/);
  assert.ok(Buffer.byteLength(reason) <= 123);
});

test("hardening - a revoked device token is refused at the next connection on every replica", async () => {
  const token = await issueToken(SECRET, "pin-revoked", 600);
  const first = await firmware("pin-revoked", { authorization: `Bearer ${token}` });
  await first.until((m) => m.status === "connected");
  first.ws.close();
  const { jti, exp } = decodeJwt(token);
  await revokeToken(await openRevocations(nc, 90 * 86_400), String(jti), (exp ?? 0) * 1000);
  const deadline = Date.now() + 5_000;
  let refused = false;
  while (!refused && Date.now() < deadline) {
    refused = await new TestDevice(edge.url, { authorization: `Bearer ${token}` }).opened.then(
      (): boolean => false,
      (e: Error) => /HTTP 401/.test(e.message),
    );
  }
  assert.ok(refused, "the revoked token was refused");
  const other = await firmware("pin-revoked", {
    authorization: `Bearer ${await issueToken(SECRET, "pin-revoked", 600)}`,
  });
  await other.until((m) => m.status === "connected");
  other.ws.close();
});

test("hardening - an event NATS refuses for good is dropped and counted; events behind it are stored", async () => {
  const metrics = createEdgeMetrics(createRegistry("edge"));
  const publisher = new EventPublisher("edge-test", 100, createLogger("t", "silent"), metrics);
  publisher.attach(jetstream(nc));
  // Larger than the server's max_payload (1 MiB): the client refuses it every time.
  publisher.publish("pin-huge", "s", { $case: "log", value: { level: "info", message: "x".repeat(2 * 1024 * 1024) } });
  const sub = nc.subscribe(eventSubject("pin-behind", "connected"), { max: 1 });
  publisher.publish("pin-behind", "s", { $case: "connected", value: { dialect: "firmware", remoteAddress: "" } });
  assert.equal(await publisher.confirm(10_000), true);
  for await (const m of sub) assert.equal(events.Event.decode(m.data).deviceId, "pin-behind");
  assert.equal((await metrics.eventsRejected.get()).values[0]?.value, 1);
  await publisher.flush(1_000);
});

test("hardening - repeated replies leave no listener behind on the session (waitReady)", async () => {
  const d = new TestDevice(`${edge.url}?session=pin-say&token=${STATIC_TOKEN}`);
  await d.opened;
  await d.until((m) => m.type === "ready");
  await d.until((m) => m.type === "state_sync" && m.server_state === "idle");
  for (let i = 0; i < 5; i++) {
    const reply = await sendCommand(nc, "pin-say", { $case: "say", value: { text: `Reminder ${i}.` } }, 10_000);
    assert.equal(reply.ok, true, reply.message);
  }
  const session = edge.devices.get("pin-say") as unknown as { core: { abort: AbortController } };
  assert.ok(getEventListeners(session.core.abort.signal, "abort").length <= 1);
  d.ws.close();
});
