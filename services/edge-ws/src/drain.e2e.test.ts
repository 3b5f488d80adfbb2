import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { connectNats, createLogger } from "@hotpin/runtime";
import { startNats, type TestNats } from "@hotpin/test-support";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { BENCH_TOKEN, startEdgeProcess } from "./bench/edge-process";
import { FIRMWARE_FRAME_BYTES } from "./dialects/firmware";
import { deviceKey } from "./fleet/kv-bucket";
import { OWNER_BUCKET } from "./fleet/ownership";
import { type PeerBehaviour, startPeers, TestDevice, tone } from "./test-peers.test-util";

/**
 * SIGTERM drain of a real edge process (dist/main.js, as `npm start` runs it) in front of test
 * gRPC peers and a real NATS: the device mid-utterance finishes its exchange, the idle device is
 * closed with 1012 at once, ownership in KV is released, and the process exits 0.
 */
let nats: TestNats;
let nc: NatsConnection;
let release: () => void = () => undefined;
let chatStarted: Promise<void>;
const behaviour: PeerBehaviour = { transcript: "go forward ten meters", llm: "ok", ttsFails: false };
let peers: Awaited<ReturnType<typeof startPeers>>;

before(async () => {
  nats = await startNats();
  behaviour.llmHold = new Promise<void>((r) => {
    release = r;
  });
  chatStarted = new Promise<void>((r) => {
    behaviour.onChat = r;
  });
  peers = await startPeers(behaviour);
  nc = await connectNats({ servers: nats.url, name: "drain-test", log: createLogger("drain", "silent") });
});
after(async () => {
  release();
  await nc?.close();
  peers?.stop();
  await nats?.[Symbol.asyncDispose]();
});

async function firmware(url: string, id: string) {
  const d = new TestDevice(`${url}/ws`, { authorization: `Bearer ${BENCH_TOKEN}` });
  await d.opened;
  d.send({ session_id: id });
  await d.until((m) => m.status === "connected");
  return d;
}

/** The owner entry of a device: its holder's instance, or undefined when released. */
async function owner(deviceId: string): Promise<string | undefined> {
  const kv = await new Kvm(nc).open(OWNER_BUCKET);
  const entry = await kv.get(deviceKey(deviceId));
  return entry?.operation === "PUT" ? (entry.json<{ instance: string }>().instance ?? "") : undefined;
}

test("drain - SIGTERM: the utterance in flight finishes, the idle device gets 1012, ownership is released, exit 0", async () => {
  const edge = await startEdgeProcess({
    natsUrl: nats.url,
    stt: peers.address,
    llm: peers.address,
    tts: peers.address,
    storage: peers.address,
    env: { HOTPIN_EDGE_INSTANCE: "edge-drain", HOTPIN_EDGE_DRAIN_TIMEOUT_MS: "20000" },
  });
  const exited = new Promise<number | null>((resolve) => edge.child.proc.once("exit", (code) => resolve(code)));
  try {
    const busy = await firmware(edge.url, "drain-busy");
    const idle = await firmware(edge.url, "drain-idle");
    // Ownership is claimed asynchronously after identify: wait (bounded) for both entries.
    for (let i = 0; i < 50 && !((await owner("drain-busy")) && (await owner("drain-idle"))); i++)
      await new Promise((r) => setTimeout(r, 100));
    assert.equal(await owner("drain-busy"), "edge-drain");
    assert.equal(await owner("drain-idle"), "edge-drain");

    const pcm = tone(FIRMWARE_FRAME_BYTES * 4);
    for (let at = 0; at < pcm.length; at += FIRMWARE_FRAME_BYTES)
      busy.ws.send(pcm.subarray(at, at + FIRMWARE_FRAME_BYTES));
    busy.send({ signal: "EOS" });
    await busy.until((m) => m.stage === "llm");
    await chatStarted; // the LLM holds its answer: the utterance is in flight

    edge.child.proc.kill("SIGTERM");
    const idleClose = await idle.closed;
    assert.equal(idleClose.code, 1012, "the idle device is told to reconnect elsewhere");

    release(); // the answer comes: the busy device's exchange completes during the drain
    await busy.until((m) => m.stage === "tts");
    let audio = 0;
    for (;;) {
      const m = await busy.next();
      if (Buffer.isBuffer(m)) {
        if (m.length === 0) break;
        audio += m.length;
      }
    }
    assert.ok(audio > 44, "the reply WAV arrived");
    assert.deepEqual(await busy.until((m) => m.status !== undefined), { status: "complete" });
    assert.equal((await busy.closed).code, 1012, "then it is closed with 1012 too");

    assert.equal(await exited, 0, `the process exits 0:\n${edge.child.tail()}`);
    assert.equal(await owner("drain-busy"), undefined, "ownership of the busy device released");
    assert.equal(await owner("drain-idle"), undefined, "ownership of the idle device released");
  } finally {
    await edge.stop();
  }
});
