import assert from "node:assert/strict";
import { before, test } from "node:test";
import { type DeviceResult, loadSpeech, runDevice } from "@hotpin/sim";
import { TEST_DEVICE_TOKEN } from "@hotpin/test-support";
import { issueToken } from "./auth";
import { NOT_UNDERSTOOD } from "./dialects/firmware";
import { GOFORWARD, meshSkip, useMesh } from "./mesh-fixture.test-util";
import { TestDevice } from "./test-peers.test-util";

/**
 * Recovery and refusals through the whole mesh (NATS, storage, STT with PocketSphinx, LLM on
 * the fake Groq, TTS with espeak-ng, this edge; each its own process): silence judged by the
 * real STT's measures, every bad input's own error while another device is served, tokens,
 * and the duplicate-device rule. One mesh for the file. HOTPIN_EDGE_SKIP_MESH=1 leaves it out.
 */
const ANSWER = "Moving forward ten meters now.";
/** startMesh's signing secret (packages/test-support/src/mesh.ts). */
const MESH_TOKEN_SECRET = "test-token-secret-0123456789abcdef";
const SILENCE = Buffer.alloc(32_000); // 1 s of digital silence: long enough, RMS 0
const skip = meshSkip("mesh recovery end-to-end tests");

let speech: Buffer;

const fx = useMesh(skip, ANSWER);
before(async () => {
  if (!skip) speech = await loadSpeech(GOFORWARD);
});

/** Test speed where timing is not the point: no firmware stabilisation wait, ACK-limited pacing. */
const quick = { handshakeDelayMs: 0, pacing: "fast", chunkPauseMs: 0 } as const;

/** The server messages of one type, in order, from the simulator's timeline. */
function received(r: DeviceResult, type: string): Record<string, unknown>[] {
  return r.timeline
    .filter((e) => e.dir === "in" && e.text.startsWith("{"))
    .map((e) => JSON.parse(e.text) as Record<string, unknown>)
    .filter((m) => m.type === type);
}

/** A device that speaks goforward.raw and must get the whole answer. */
async function goodExchange(deviceId: string, dialect: "firmware" | "spec", token = TEST_DEVICE_TOKEN) {
  const r = await runDevice({ url: fx.mesh.edgeUrl, dialect, deviceId, token, pcm: speech, ...quick });
  assert.equal(r.ok, true, `${deviceId}: ${r.error?.message ?? r.utterances[0]?.serverError?.message}`);
  assert.match(String(r.utterances[0]?.transcript), /go forward/);
  assert.equal(r.utterances[0]?.response, ANSWER);
  return r;
}

test("mesh recovery - spec silence three times: request_rerecord (silence) twice, then request_user_intervention", {
  skip,
}, async () => {
  const r = await runDevice({
    url: fx.mesh.edgeUrl,
    dialect: "spec",
    deviceId: "silent-spec",
    token: TEST_DEVICE_TOKEN,
    pcm: SILENCE,
    ...quick,
  });
  assert.equal(r.error, undefined, r.error?.message);
  assert.equal(r.utterances[0]?.outcome, "intervention");
  assert.equal(r.utterances[0]?.rerecords.length, 2);
  assert.deepEqual(
    received(r, "request_rerecord").map((m) => [m.code, m.attempt]),
    [
      ["silence", 1],
      ["silence", 2],
    ],
  );
  assert.equal(received(r, "request_user_intervention").length, 1);
});

test("mesh recovery - firmware silence gets 'Could not understand audio'; the same device is answered next time", {
  skip,
}, async () => {
  const silent = await runDevice({
    url: fx.mesh.edgeUrl,
    dialect: "firmware",
    deviceId: "silent-fw",
    token: TEST_DEVICE_TOKEN,
    pcm: SILENCE,
    ...quick,
  });
  assert.equal(silent.error, undefined, silent.error?.message);
  assert.equal(silent.utterances[0]?.outcome, "server_error");
  assert.equal(silent.utterances[0]?.serverError?.message, NOT_UNDERSTOOD);
  await goodExchange("silent-fw", "firmware");
});

test("mesh recovery - each bad spec input gets its specific error while another device is served", {
  skip,
}, async () => {
  // A firmware device at the firmware's own pace, through the whole pipeline, all along.
  const bystander = runDevice({
    url: fx.mesh.edgeUrl,
    dialect: "firmware",
    deviceId: "bystander",
    token: TEST_DEVICE_TOKEN,
    pcm: speech,
  });
  const d = new TestDevice(`${fx.wsUrl()}?session=bad-spec&token=${TEST_DEVICE_TOKEN}`);
  await d.opened;
  await d.until((m) => m.type === "ready");
  const expectError = async (send: () => void, code: string) => {
    send();
    assert.equal((await d.until((m) => m.type === "error")).code, code);
  };
  await expectError(() => d.ws.send("not json"), "bad_json");
  await expectError(() => d.ws.send("[1,2]"), "bad_message");
  await expectError(() => d.send({ type: "teleport" }), "unknown_type");
  await expectError(() => d.ws.send(Buffer.alloc(10)), "binary_without_meta");
  await expectError(() => d.send({ type: "recording_stopped" }), "illegal_state");
  d.send({ type: "recording_started" });
  await expectError(() => d.send({ type: "audio_chunk_meta", seq: 1, len_bytes: 7 }), "bad_chunk");
  await expectError(() => {
    d.send({ type: "audio_chunk_meta", seq: 1, len_bytes: 8 });
    d.ws.send(Buffer.alloc(10));
  }, "bad_chunk");
  await expectError(() => {
    d.send({ type: "audio_chunk_meta", seq: 2, len_bytes: 8 });
    d.send({ type: "audio_chunk_meta", seq: 3, len_bytes: 8 });
  }, "meta_without_binary");
  // A gap larger than HOTPIN_EDGE_MAX_SEQ_GAP (4) loses the take: re-record, not an error.
  d.send({ type: "audio_chunk_meta", seq: 4, len_bytes: 8 });
  d.ws.send(Buffer.alloc(8));
  d.send({ type: "audio_chunk_meta", seq: 10, len_bytes: 8 });
  d.ws.send(Buffer.alloc(8));
  assert.equal((await d.until((m) => m.type === "request_rerecord")).code, "chunks_lost");
  d.send({ type: "ping" });
  await d.until((m) => m.type === "pong");
  // Flooding: over HOTPIN_EDGE_MAX_MESSAGES_PER_SEC (200) the device is told, then closed with 1008.
  for (let i = 0; i < 300 && d.ws.readyState === d.ws.OPEN; i++) d.send({ type: "ping" });
  assert.equal((await d.until((m) => m.type === "error")).code, "rate_limited");
  assert.equal((await d.closed).code, 1008);
  // An oversize frame (> HOTPIN_EDGE_MAX_FRAME_BYTES, 64 KiB) closes that socket with 1009.
  const huge = new TestDevice(`${fx.wsUrl()}?session=huge-spec&token=${TEST_DEVICE_TOKEN}`);
  await huge.opened;
  huge.ws.send(Buffer.alloc(70_000));
  assert.equal((await huge.closed).code, 1009);
  const r = await bystander;
  assert.equal(r.ok, true, r.error?.message);
  assert.match(String(r.utterances[0]?.transcript), /go forward/);
  // And the process still serves a new device after all of it.
  await goodExchange("after-bad-spec", "spec");
});

test("mesh recovery - missing, wrong, expired and other-device tokens are refused; a device's own signed token works", {
  skip,
}, async () => {
  await assert.rejects(new TestDevice(fx.wsUrl()).opened, /HTTP 401/);
  await assert.rejects(new TestDevice(fx.wsUrl(), { authorization: "Bearer nope" }).opened, /HTTP 401/);
  const expired = await issueToken(MESH_TOKEN_SECRET, "pin-x", 60, Date.now() - 120_000);
  await assert.rejects(new TestDevice(`${fx.wsUrl()}?session=pin-x&token=${expired}`).opened, /HTTP 401/);
  const forgedSecret = await issueToken("not-the-mesh-secret-0123456789abcdefgh", "pin-x", 60);
  await assert.rejects(new TestDevice(`${fx.wsUrl()}?session=pin-x&token=${forgedSecret}`).opened, /HTTP 401/);
  const forOther = await issueToken(MESH_TOKEN_SECRET, "pin-y", 60);
  await assert.rejects(new TestDevice(`${fx.wsUrl()}?session=pin-x&token=${forOther}`).opened, /HTTP 403/);
  const claimer = new TestDevice(fx.wsUrl(), { authorization: `Bearer ${forOther}` });
  await claimer.opened;
  claimer.send({ session_id: "pin-x" });
  assert.equal((await claimer.closed).code, 4003);
  // The simulator reports a refused token as an auth failure (and does not retry it).
  const refused = await runDevice({
    url: fx.mesh.edgeUrl,
    dialect: "firmware",
    deviceId: "pin-x",
    token: expired,
    pcm: speech,
    retries: 2,
    ...quick,
  });
  assert.equal(refused.error?.kind, "auth");
  assert.equal(refused.connections, 1);
  await goodExchange("pin-y", "firmware", forOther);
});

test("mesh recovery - a second connection for a device replaces the first (4001 replaced); the new one is served", {
  skip,
}, async () => {
  const first = new TestDevice(`${fx.wsUrl()}?session=dup-pin&token=${TEST_DEVICE_TOKEN}`);
  await first.opened;
  await first.until((m) => m.type === "ready");
  const second = goodExchange("dup-pin", "spec");
  assert.equal((await first.until((m) => m.type === "error")).code, "replaced");
  assert.equal((await first.closed).code, 4001);
  await second;
});
