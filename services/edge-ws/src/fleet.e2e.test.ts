import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { storage } from "@hotpin/contracts";
import { connectNats, createGrpcClient, createLogger } from "@hotpin/runtime";
import { startFakeGroq, startMesh, TEST_DEVICE_TOKEN } from "@hotpin/test-support";
import type { NatsConnection } from "@nats-io/transport-node";
import { type EdgeProcess, startEdgeProcess } from "./bench/edge-process";
import { sendCommand } from "./commands/send-command";
import { FIRMWARE_FRAME_BYTES } from "./dialects/firmware";
import { testJpeg } from "./images/sample-images.test-util";
import { GOFORWARD, meshSkip } from "./mesh-fixture.test-util";
import { unary } from "./pipeline/services";
import { TestDevice } from "./test-peers.test-util";

/**
 * Two real edge processes (the mesh's edge "A" and a second replica "B" started here with the
 * same environment) in front of the real STT, LLM (fake Groq), TTS and storage services on one
 * NATS: an image uploaded on A reaches the LLM for a device on B; the conversation continues on
 * the other replica and is gone after storage's idle expiry; `say` and /events across replicas.
 */
const IDLE_TTL_S = 6;
const skip = meshSkip("fleet end-to-end tests");

let groq: Awaited<ReturnType<typeof startFakeGroq>>;
let mesh: Awaited<ReturnType<typeof startMesh>>;
let replicaB: EdgeProcess | undefined;
let urlB = "";
let nc: NatsConnection;
const OBSERVER_TOKEN = "fleet-observer-token";

before(async () => {
  if (skip) return;
  groq = await startFakeGroq({ defaultAnswer: "Moving forward now." });
  const env = {
    GROQ_API_KEY: "test-key",
    GROQ_BASE_URL: groq.url,
    HOTPIN_STORAGE_CONVERSATION_IDLE_TTL_S: String(IDLE_TTL_S),
    HOTPIN_EDGE_OBSERVER_TOKENS: OBSERVER_TOKEN,
  };
  mesh = await startMesh({ env, serviceEnv: { edge: { HOTPIN_EDGE_INSTANCE: "edge-a" } } });
  replicaB = await startEdgeProcess({
    natsUrl: mesh.nats.url,
    stt: mesh.address("stt"),
    llm: mesh.address("llm"),
    tts: mesh.address("tts"),
    storage: mesh.address("storage"),
    env: {
      ...env,
      HOTPIN_DEVICE_TOKENS: TEST_DEVICE_TOKEN,
      HOTPIN_TOKEN_SECRET: "test-token-secret-0123456789abcdef",
      HOTPIN_LOG_LEVEL: "warn",
      HOTPIN_EDGE_INSTANCE: "edge-b",
    },
  });
  urlB = replicaB.url.replace("ws", "http");
  nc = await connectNats({ servers: mesh.nats.url, name: "fleet-e2e", log: createLogger("fleet-e2e", "silent") });
});
after(async () => {
  await nc?.close();
  await replicaB?.stop();
  await mesh?.[Symbol.asyncDispose]();
  await groq?.[Symbol.asyncDispose]();
});

const ws = (http: string) => `${http.replace("http", "ws")}/ws`;
const bearer = { authorization: `Bearer ${TEST_DEVICE_TOKEN}` };

async function firmware(http: string, id: string) {
  const d = new TestDevice(ws(http), bearer);
  await d.opened;
  d.send({ session_id: id });
  await d.until((m) => m.status === "connected");
  return d;
}

async function speak(d: TestDevice) {
  const pcm = readFileSync(GOFORWARD);
  let sent = 0;
  let acked = 0;
  for (let at = 0; at < pcm.length; at += FIRMWARE_FRAME_BYTES) {
    d.ws.send(pcm.subarray(at, at + FIRMWARE_FRAME_BYTES));
    if (++sent - acked >= 2) acked = (await d.until((m) => m.status === "receiving")).chunks_received as number;
  }
  d.send({ signal: "EOS" });
  const llmStage = await d.until((m) => m.stage === "llm");
  await d.until((m) => m.status === "complete");
  return llmStage;
}

/** The last chat request's messages as text, and whether it carried an image. */
function lastChat() {
  const body = groq.chatRequests().at(-1)?.body;
  const text = JSON.stringify(body?.messages ?? []);
  return { text, hasImage: text.includes("image_url") || text.includes("data:image/") };
}

test("fleet e2e - image uploaded on replica A reaches the LLM for a device on replica B; history follows the device across replicas, then expires", {
  skip,
}, async () => {
  const onB = await firmware(urlB, "fleet-cam");
  const form = new FormData();
  form.append("session", "fleet-cam");
  form.append("file", new Blob([await testJpeg(1600, 1200)], { type: "image/jpeg" }), "image.jpg");
  const up = await fetch(`${mesh.edgeUrl}/image`, { method: "POST", headers: bearer, body: form });
  assert.equal(up.status, 200, await up.clone().text());
  const first = await speak(onB);
  assert.equal(first.has_image, true);
  assert.equal(lastChat().hasImage, true);
  onB.ws.close();
  // The same device on replica A: its conversation continues there.
  const onA = await firmware(mesh.edgeUrl, "fleet-cam");
  const second = await speak(onA);
  assert.equal(second.has_image, false);
  const chat = lastChat();
  assert.equal(chat.hasImage, false, "the image belonged to one turn");
  assert.match(chat.text, /Moving forward now/, "the previous answer is in the history");
  // After storage's idle expiry the conversation is gone (watched through storage, no fixed wait).
  const client = createGrpcClient(storage.StorageClient, mesh.address("storage"));
  while ((await unary(client, client.recentTurns, { deviceId: "fleet-cam", limit: 0 }, 3_000)).turns.length > 0) {
    await new Promise((r) => setTimeout(r, 250));
  }
  client.close();
  await speak(onA);
  assert.doesNotMatch(lastChat().text, /Moving forward now/);
  onA.ws.close();
});

test("fleet e2e - say reaches a device on the other replica; /events on A shows its transcript", { skip }, async () => {
  const events = new TestDevice(`${ws(mesh.edgeUrl).replace(/\/ws$/, "/events")}?device=fleet-say`, {
    authorization: `Bearer ${OBSERVER_TOKEN}`,
  });
  await events.opened;
  const d = await firmware(urlB, "fleet-say");
  for (;;) {
    const r = await sendCommand(nc, "fleet-say", { $case: "getState", value: {} }, 5_000).catch(() => undefined);
    if (r?.state?.edgeInstance === "edge-b") break;
    await new Promise((r2) => setTimeout(r2, 50));
  }
  const reply = sendCommand(nc, "fleet-say", { $case: "say", value: { text: "Hello from the operator." } }, 30_000);
  assert.equal((await d.until((m) => m.stage === "tts")).response, "Hello from the operator.");
  await d.until((m) => m.status === "complete");
  assert.equal((await reply).ok, true);
  await speak(d);
  const t = await events.until((m) => m.event === "transcription" && m.is_final === true);
  assert.match(String(t.text), /go forward/);
  assert.equal(t.edge_instance, "edge-b");
  events.ws.close();
  d.ws.close();
});

/** The device's newest stored session once `done` holds for it, polled (bounded: 10 s). */
async function storedSession(deviceId: string, done: (s: storage.Session) => boolean): Promise<storage.Session> {
  const client = createGrpcClient(storage.StorageClient, mesh.address("storage"));
  try {
    for (let i = 0; i < 100; i++) {
      const [s] = (await unary(client, client.listSessions, { deviceId, limit: 1 }, 3_000)).sessions;
      if (s && done(s)) return s;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`no stored session of ${deviceId} as expected`);
  } finally {
    client.close();
  }
}

test("fleet e2e - storage records a session from the edge's events: dialect, replica, start, end, status, notes", {
  skip,
}, async () => {
  const before = Date.now();
  const d = await firmware(urlB, "fleet-session");
  const { SESSION_STATUS_ACTIVE, SESSION_STATUS_COMPLETED, SESSION_STATUS_ERROR } = storage.SessionStatus;
  const active = await storedSession("fleet-session", (s) => s.status === SESSION_STATUS_ACTIVE);
  assert.equal(active.dialect, "firmware");
  assert.equal(active.edgeInstance, "edge-b");
  assert.ok((active.startedAt?.getTime() ?? 0) >= before, "started when the device identified itself");
  d.ws.close(1000);
  const ended = await storedSession("fleet-session", (s) => s.status !== SESSION_STATUS_ACTIVE);
  assert.equal(ended.id, active.id);
  assert.equal(ended.status, SESSION_STATUS_COMPLETED, "a normal close is a completed session");
  assert.equal(ended.notes, "close code 1000");
  assert.equal(ended.dialect, "firmware", "the end keeps what the start recorded");
  assert.ok((ended.endedAt?.getTime() ?? 0) >= (active.startedAt?.getTime() ?? Infinity));
  // An abnormal end (no close frame: 1006) is an error.
  const gone = await firmware(mesh.edgeUrl, "fleet-session-gone");
  gone.ws.terminate();
  const lost = await storedSession("fleet-session-gone", (s) => s.status !== SESSION_STATUS_ACTIVE);
  assert.equal(lost.status, SESSION_STATUS_ERROR);
  assert.equal(lost.edgeInstance, "edge-a");
  assert.match(lost.notes, /^close code 1006/);
});
