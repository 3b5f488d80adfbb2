import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { connectNats, createLogger, EVENT_STREAM } from "@hotpin/runtime";
import { startNats, type TestNats } from "@hotpin/test-support";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { startDelayProxy } from "../delay-proxy.test-util";
import { FIRMWARE_FRAME_BYTES } from "../dialects/firmware";
import { STATIC_TOKEN, startEdge, startPeers, TestDevice, tone } from "../test-peers.test-util";

/**
 * Device-visible milestones against a real NATS: the edge sends the message that proves an
 * event happened only once JetStream has stored that event (a SIGKILL right after loses
 * nothing the device saw), and with NATS away the wait is bounded and the events follow later.
 */
let nats: TestNats;
let nc: NatsConnection;
let peers: Awaited<ReturnType<typeof startPeers>>;
const bearer = { authorization: `Bearer ${STATIC_TOKEN}` };

before(async () => {
  nats = await startNats();
  peers = await startPeers({ transcript: "go forward ten meters", llm: "ok", ttsFails: false });
  nc = await connectNats({ servers: nats.url, name: "milestones-test", log: createLogger("milestones", "silent") });
});
after(async () => {
  await nc?.close();
  peers?.stop();
  await nats?.[Symbol.asyncDispose]();
});

/** Events of one type for one device in the stream now (retried while NATS comes back). */
async function stored(device: string, type: string): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    try {
      const jsm = await jetstreamManager(nc);
      const info = await jsm.streams.info(EVENT_STREAM, { subjects_filter: `hotpin.events.${device}.${type}` });
      return info.state.subjects?.[`hotpin.events.${device}.${type}`] ?? 0;
    } catch (err) {
      if (attempt >= 50) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

async function connectFirmware(url: string, id: string) {
  const d = new TestDevice(url, bearer);
  await d.opened;
  d.send({ session_id: id });
  return d;
}

function streamSpeech(d: TestDevice) {
  const pcm = tone(FIRMWARE_FRAME_BYTES * 4);
  for (let at = 0; at < pcm.length; at += FIRMWARE_FRAME_BYTES) d.ws.send(pcm.subarray(at, at + FIRMWARE_FRAME_BYTES));
  d.send({ signal: "EOS" });
}

test("milestones - with slow JetStream acks, each milestone reaches the device only after its event is stored", async () => {
  // Every NATS reply to the edge (acks included) trails by 150 ms: a milestone sent without
  // waiting for its ack would reach the device before the event is in the stream.
  const slow = await startDelayProxy(nats.port, 150);
  const edge = await startEdge(peers.address, { HOTPIN_EDGE_EVENT_CONFIRM_TIMEOUT_MS: "10000" }, slow.url);
  try {
    const id = "milestone-slow";
    const d = await connectFirmware(edge.url, id);
    await d.until((m) => m.status === "connected");
    assert.equal(await stored(id, "connected"), 1, "connected is stored before the device hears connected");
    streamSpeech(d);
    await d.until((m) => m.stage === "llm");
    assert.equal(await stored(id, "transcript"), 1, "transcript is stored before the llm stage");
    await d.until((m) => m.stage === "tts");
    assert.equal(await stored(id, "llmText"), 1, "llmText is stored before the tts stage");
    await d.until((m) => m.status === "complete");
    assert.equal(await stored(id, "ttsDone"), 1, "ttsDone is stored before complete");
    const waits = (await edge.metrics.eventConfirm.get()).values;
    const count = (outcome: string) =>
      waits.find((v) => v.metricName?.endsWith("_count") && v.labels.outcome === outcome)?.value ?? 0;
    assert.ok(count("acked") >= 4, `milestones waited for acks (${count("acked")})`);
    assert.equal(count("timeout"), 0);
    d.ws.close();
    await d.closed;
  } finally {
    await edge.stop();
    await slow.close();
  }
});

test("milestones - with NATS stopped the device is served after the bounded wait, and the events arrive once NATS is back", async () => {
  const edge = await startEdge(peers.address, { HOTPIN_EDGE_EVENT_CONFIRM_TIMEOUT_MS: "300" }, nats.url);
  try {
    const id = "milestone-outage";
    const d = await connectFirmware(edge.url, id);
    await d.until((m) => m.status === "connected");
    await nats.stop();
    streamSpeech(d);
    await d.until((m) => m.stage === "llm");
    await d.until((m) => m.stage === "tts");
    await d.until((m) => m.status === "complete");
    const waits = (await edge.metrics.eventConfirm.get()).values;
    const timeouts = waits.find((v) => v.metricName?.endsWith("_count") && v.labels.outcome === "timeout")?.value;
    assert.ok((timeouts ?? 0) >= 3, `the milestones gave up waiting (timeouts ${timeouts})`);
    await nats.start();
    // Bounded: the publisher retries with a backoff of at most 5 s.
    const deadline = Date.now() + 30_000;
    const types = ["transcript", "llmText", "ttsDone"];
    let counts: number[] = [];
    while (Date.now() < deadline) {
      counts = await Promise.all(types.map((t) => stored(id, t)));
      if (counts.every((n) => n >= 1)) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.deepEqual(counts, [1, 1, 1], "transcript, llmText and ttsDone arrived once each after NATS returned");
    d.ws.close();
    await d.closed;
  } finally {
    await edge.stop();
  }
});
