import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { events } from "@hotpin/contracts";
import { createLogger, createRegistry } from "@hotpin/runtime";
import { startNats, type TestNats } from "@hotpin/test-support";
import { jetstream } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { WebSocket } from "ws";
import { EventPublisher } from "../events";
import { createEdgeMetrics } from "../metrics";
import { wakeWordEvent } from "../pipeline/wake-spotter";
import { startEdge, startPeers } from "../test-peers.test-util";
import { observerMessage } from "./observer-format";

const OBSERVER_TOKEN = "observer-token-for-wake-tests";

test("observer format - a wake word is seed 003's wake_word: word, confidence, timestamp (plus source and ids)", () => {
  const time = new Date("2026-12-01T12:00:00.250Z");
  const e = events.Event.fromPartial({
    id: "0193-wake",
    deviceId: "pin-1",
    sessionId: "sess-1",
    edgeInstance: "edge-a",
    time,
    payload: wakeWordEvent({ word: "hey hotpin", confidence: 0.87 }, "server"),
  });
  assert.deepEqual(observerMessage(e), {
    event: "wake_word",
    word: "hey hotpin",
    confidence: 0.87,
    source: "server",
    timestamp: time.getTime() / 1000,
    session_id: "sess-1",
    device_id: "pin-1",
    edge_instance: "edge-a",
    id: "0193-wake",
  });
});

let nats: TestNats;
let nc: NatsConnection;
let peers: Awaited<ReturnType<typeof startPeers>>;
let edge: Awaited<ReturnType<typeof startEdge>>;

before(async () => {
  nats = await startNats();
  nc = await connect({ servers: nats.url });
  peers = await startPeers({ transcript: "hello", llm: "ok", ttsFails: false });
  edge = await startEdge(peers.address, { HOTPIN_EDGE_OBSERVER_TOKENS: OBSERVER_TOKEN }, nats.url);
});
after(async () => {
  await edge?.stop();
  peers?.stop();
  await nc?.close();
  await nats?.[Symbol.asyncDispose]();
});

test("observer stream - a wake_word event published on NATS reaches an /events client in that shape", async () => {
  const ws = new WebSocket(`${edge.http.replace("http", "ws")}/events?device=pin-wake`, {
    headers: { authorization: `Bearer ${OBSERVER_TOKEN}` },
  });
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  const received = new Promise<Record<string, unknown>>((resolve) =>
    ws.on("message", (data) => {
      const m = JSON.parse(String(data));
      if (m.event === "wake_word") resolve(m);
    }),
  );
  const publisher = new EventPublisher(
    "edge-wake-test",
    100,
    createLogger("t", "silent"),
    createEdgeMetrics(createRegistry("edge")),
  );
  publisher.attach(jetstream(nc));
  // The replica subscribes to NATS when its first observer comes; publish until that holds (bounded).
  let got: Record<string, unknown> | undefined;
  void received.then((m) => {
    got = m;
  });
  for (let i = 0; i < 100 && !got; i++) {
    publisher.publish("pin-wake", "sess-w", wakeWordEvent({ word: "你好小智" }, "device"));
    await publisher.confirm(5_000);
    await new Promise((r) => setTimeout(r, 50));
  }
  const m = await received;
  ws.close();
  await publisher.flush(1_000);
  assert.equal(m.event, "wake_word");
  assert.equal(m.word, "你好小智");
  assert.equal(m.confidence, 1);
  assert.equal(m.source, "device");
  assert.equal(m.device_id, "pin-wake");
  assert.equal(m.session_id, "sess-w");
  assert.equal(typeof m.timestamp, "number");
  assert.ok(Math.abs((m.timestamp as number) - Date.now() / 1000) < 60, `timestamp ${m.timestamp} is in seconds`);
});
