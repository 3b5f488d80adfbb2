import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { connectNats, createLogger } from "@hotpin/runtime";
import { startNats, type TestNats } from "@hotpin/test-support";
import type { NatsConnection } from "@nats-io/transport-node";
import { WebSocket } from "ws";
import { issueToken } from "../auth";
import { DeviceNotConnectedError, sendCommand } from "../commands/send-command";
import { SECRET, STATIC_TOKEN, startEdge, startPeers, TestDevice, tone } from "../test-peers.test-util";

/**
 * Two edge replicas (A, B) on one real NATS server in this process: device commands by
 * request/reply, ownership across replicas in KV, /events fed from NATS, conversation reset.
 */
const OBSERVER_TOKEN = "observer-token-0123456789";
let nats: TestNats;
let nc: NatsConnection;
let peers: Awaited<ReturnType<typeof startPeers>>;
let a: Awaited<ReturnType<typeof startEdge>>;
let b: Awaited<ReturnType<typeof startEdge>>;
const bearer = { authorization: `Bearer ${STATIC_TOKEN}` };

before(async () => {
  nats = await startNats();
  peers = await startPeers({ transcript: "tell me more", llm: "ok", ttsFails: false });
  const env = { HOTPIN_EDGE_OBSERVER_TOKENS: OBSERVER_TOKEN, HOTPIN_EDGE_MAX_OBSERVERS: "3" };
  a = await startEdge(peers.address, { ...env, HOTPIN_EDGE_INSTANCE: "edge-a" }, nats.url);
  b = await startEdge(peers.address, { ...env, HOTPIN_EDGE_INSTANCE: "edge-b" }, nats.url);
  nc = await connectNats({ servers: nats.url, name: "fleet-test", log: createLogger("fleet-test", "silent") });
});
after(async () => {
  await nc?.close();
  await a?.stop();
  await b?.stop();
  peers?.stop();
  await nats?.[Symbol.asyncDispose]();
});

async function specDevice(edge: typeof a, id: string) {
  const d = new TestDevice(`${edge.url}?session=${encodeURIComponent(id)}&token=${STATIC_TOKEN}`);
  await d.opened;
  await d.until((m) => m.type === "ready");
  await d.until((m) => m.type === "state_sync" && m.server_state === "idle");
  return d;
}

async function specUtterance(d: TestDevice) {
  d.send({ type: "recording_started" });
  for (let seq = 1; seq <= 2; seq++) {
    d.send({ type: "audio_chunk_meta", seq, len_bytes: 16_000 });
    d.ws.send(tone(16_000));
  }
  d.send({ type: "recording_stopped" });
  await d.until((m) => m.type === "tts_ready");
  d.send({ type: "ready_for_playback" });
  await d.until((m) => m.type === "tts_done");
  await d.until((m) => m.type === "state_sync" && m.server_state === "idle");
}

/** Commands are answered once the replica has subscribed for the device: wait for that. */
async function untilCommandable(deviceId: string) {
  for (;;) {
    try {
      return await sendCommand(nc, deviceId, { $case: "getState", value: {} }, 2_000);
    } catch (err) {
      if (!(err instanceof DeviceNotConnectedError)) throw err;
      await new Promise((r) => setImmediate(r));
    }
  }
}

/** Turns are stored in the background after the reply: wait until the device's are there. */
async function storedTurn(deviceId: string) {
  while (!peers.turns.some((t) => t.deviceId === deviceId && t.role === 2)) await new Promise((r) => setImmediate(r));
}

class Observer {
  readonly ws: WebSocket;
  readonly messages: Record<string, unknown>[] = [];
  private waiter: (() => void) | undefined;
  readonly opened: Promise<void>;
  constructor(url: string, headers: Record<string, string>) {
    this.ws = new WebSocket(url, { headers });
    this.ws.on("message", (data: Buffer) => {
      this.messages.push(JSON.parse(data.toString()));
      this.waiter?.();
    });
    this.opened = new Promise((resolve, reject) => {
      this.ws.once("open", () => resolve());
      this.ws.once("unexpected-response", (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
  }
  async until(match: (m: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
    for (let i = 0; ; ) {
      for (; i < this.messages.length; i++)
        if (match(this.messages[i] as Record<string, unknown>)) return this.messages[i]!;
      await new Promise<void>((r) => {
        this.waiter = r;
      });
    }
  }
}

const eventsUrl = (edge: typeof a, query = "") => `${edge.url.replace(/\/ws$/, "/events")}${query}`;

test("fleet - say reaches a spec device on the other replica and is spoken; state names that replica", async () => {
  const d = await specDevice(b, "say-spec");
  const state = await untilCommandable("say-spec");
  assert.equal(state.ok, true);
  assert.equal(state.state?.edgeInstance, "edge-b");
  assert.equal(state.state?.dialect, "spec");
  const reply = sendCommand(nc, "say-spec", { $case: "say", value: { text: "Dinner is ready." } }, 10_000);
  assert.equal((await d.until((m) => m.type === "llm")).text, "Dinner is ready.");
  const ready = await d.until((m) => m.type === "tts_ready");
  assert.ok((ready.bytes as number) > 44);
  d.send({ type: "ready_for_playback" });
  await d.until((m) => m.type === "tts_done");
  const done = await reply;
  assert.equal(done.ok, true, done.message);
  assert.equal(done.state?.state, "idle");
  d.ws.close();
});

test("fleet - say to a firmware device arrives as the tts stage, one WAV, zero frame, complete", async () => {
  const d = new TestDevice(a.url, bearer);
  await d.opened;
  d.send({ session_id: "say-firmware" });
  await d.until((m) => m.status === "connected");
  await untilCommandable("say-firmware");
  const reply = sendCommand(nc, "say-firmware", { $case: "say", value: { text: "Hello from the operator." } }, 10_000);
  assert.equal((await d.until((m) => m.stage === "tts")).response, "Hello from the operator.");
  let bytes = 0;
  for (;;) {
    const m = await d.next();
    if (!Buffer.isBuffer(m)) continue;
    if (m.length === 0) break;
    bytes += m.length;
  }
  assert.ok(bytes > 44);
  assert.deepEqual(await d.next(), { status: "complete" });
  assert.equal((await reply).ok, true);
  d.ws.close();
});

test("fleet - commands: not connected, bad say, rerecord, conversation reset, disconnect", async () => {
  await assert.rejects(
    sendCommand(nc, "nobody-here", { $case: "getState", value: {} }, 2_000),
    DeviceNotConnectedError,
  );
  const d = await specDevice(a, "cmd-spec");
  await untilCommandable("cmd-spec");
  const empty = await sendCommand(nc, "cmd-spec", { $case: "say", value: { text: "  " } }, 5_000);
  assert.deepEqual([empty.ok, empty.errorCode], [false, "bad_request"]);
  const rerecord = await sendCommand(nc, "cmd-spec", { $case: "rerecord", value: { reason: "" } }, 5_000);
  assert.equal(rerecord.ok, true);
  assert.equal((await d.until((m) => m.type === "request_rerecord")).code, "operator");
  await specUtterance(d);
  await storedTurn("cmd-spec");
  const reset = await sendCommand(nc, "cmd-spec", { $case: "resetConversation", value: {} }, 5_000);
  assert.equal(reset.ok, true);
  await d.until((m) => m.type === "conversation_reset");
  assert.equal(peers.turns.filter((t) => t.deviceId === "cmd-spec").length, 0);
  const bye = await sendCommand(nc, "cmd-spec", { $case: "disconnect", value: { reason: "maintenance" } }, 5_000);
  assert.equal(bye.ok, true);
  assert.equal((await d.closed).code, 1000);
});

test("fleet - a busy device refuses say with busy", async () => {
  const d = await specDevice(a, "busy-spec");
  await untilCommandable("busy-spec");
  d.send({ type: "recording_started" });
  await d.until((m) => m.type === "state_sync" && m.server_state === "recording");
  const r = await sendCommand(nc, "busy-spec", { $case: "say", value: { text: "Hi." } }, 5_000);
  assert.deepEqual([r.ok, r.errorCode, r.state?.state], [false, "busy", "recording"]);
  d.ws.close();
});

test("fleet - the device's spec reset_conversation message clears its history", async () => {
  const d = await specDevice(b, "reset-msg");
  await specUtterance(d);
  await storedTurn("reset-msg");
  d.send({ type: "reset_conversation" });
  await d.until((m) => m.type === "conversation_reset");
  assert.equal(peers.turns.filter((t) => t.deviceId === "reset-msg").length, 0);
  d.ws.close();
});

test("fleet - a device reconnecting to another replica takes over: the old socket gets 4001, history continues", async () => {
  const first = await specDevice(a, "roamer");
  await specUtterance(first);
  const firstOwner = await untilCommandable("roamer");
  assert.equal(firstOwner.state?.edgeInstance, "edge-a");
  const second = await specDevice(b, "roamer");
  const closed = await first.closed;
  assert.equal(closed.code, 4001);
  assert.equal(a.devices.get("roamer"), undefined);
  const owner = await b.fleet.ownership.owner("roamer");
  assert.equal(owner?.instance, "edge-b");
  const calls = peers.histories.length;
  await specUtterance(second);
  assert.ok((peers.histories[calls] ?? []).includes("tell me more"), "the history from replica A reached the LLM");
  second.ws.close();
  await second.closed;
  // Released on close: the KV entry goes (checked until it has, no fixed wait).
  while ((await b.fleet.ownership.owner("roamer")) !== undefined) await new Promise((r) => setImmediate(r));
});

test("fleet - /events on replica A shows transcripts from a device on replica B; device filter; auth; limit", async () => {
  const all = new Observer(eventsUrl(a), { authorization: `Bearer ${OBSERVER_TOKEN}` });
  const filtered = new Observer(eventsUrl(a, "?device=someone-else"), { authorization: `Bearer ${OBSERVER_TOKEN}` });
  const own = new Observer(eventsUrl(a), { authorization: `Bearer ${await issueToken(SECRET, "watched", 60)}` });
  await Promise.all([all.opened, filtered.opened, own.opened]);
  const d = await specDevice(b, "watched");
  await specUtterance(d);
  const t = await all.until((m) => m.event === "transcription" && m.is_final === true && m.device_id === "watched");
  assert.equal(t.text, "tell me more");
  assert.equal(t.edge_instance, "edge-b");
  assert.equal(typeof t.session_id, "string");
  await all.until((m) => m.event === "llm_text" && m.device_id === "watched");
  await own.until((m) => m.event === "tts_done" && m.device_id === "watched");
  await all.until((m) => m.event === "tts_done" && m.device_id === "watched");
  assert.equal(filtered.messages.filter((m) => m.device_id === "watched").length, 0);
  assert.ok(own.messages.every((m) => m.device_id === "watched"));
  const refused = async (query: string, headers: Record<string, string>) => {
    const o = new Observer(eventsUrl(a, query), headers);
    return o.opened.then(
      () => "open",
      (err: Error) => err.message,
    );
  };
  assert.equal(await refused("", {}), "HTTP 401");
  assert.equal(await refused("", bearer), "HTTP 403");
  assert.equal(
    await refused("?device=other", { authorization: `Bearer ${await issueToken(SECRET, "watched", 60)}` }),
    "HTTP 403",
  );
  assert.equal(await refused("", { authorization: `Bearer ${OBSERVER_TOKEN}` }), "HTTP 503");
  for (const o of [all, filtered, own]) o.ws.close();
  d.ws.close();
});

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(__dirname, "..", "cli.js"), ...args, "--nats", nats.url], (err, stdout, stderr) =>
      resolve({ code: err ? Number(err.code) : 0, stdout, stderr }),
    );
  });
}

test("fleet - the hotpin CLI: state of a connected device, say, a device nobody holds, bad usage", async () => {
  const d = await specDevice(b, "cli-device");
  await untilCommandable("cli-device");
  const state = await cli(["state", "cli-device", "--json"]);
  assert.equal(state.code, 0, state.stderr);
  const reply = JSON.parse(state.stdout);
  assert.deepEqual([reply.ok, reply.state.edgeInstance, reply.state.state], [true, "edge-b", "idle"]);
  const say = cli(["say", "cli-device", "Time", "to", "go."]);
  assert.equal((await d.until((m) => m.type === "llm")).text, "Time to go.");
  d.send({ type: "ready_for_playback" });
  await d.until((m) => m.type === "tts_done");
  const said = await say;
  assert.equal(said.code, 0, said.stderr);
  assert.match(said.stdout, /^ok cli-device on edge-b/);
  const missing = await cli(["state", "not-connected-anywhere"]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /not connected/);
  assert.equal((await cli(["dance", "cli-device"])).code, 64);
  assert.equal((await cli(["say", "cli-device"])).code, 64);
  d.ws.close();
});
