import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { parseWav } from "@hotpin/audio";
import { issueToken } from "./auth";
import { FIRMWARE_FRAME_BYTES, NOT_UNDERSTOOD } from "./dialects/firmware";
import {
  type PeerBehaviour,
  SECRET,
  STATIC_TOKEN,
  startEdge,
  startPeers,
  TestDevice,
  tone,
} from "./test-peers.test-util";

const behaviour: PeerBehaviour = { transcript: "go forward ten meters", llm: "ok", ttsFails: false };
let peers: Awaited<ReturnType<typeof startPeers>>;
let edge: Awaited<ReturnType<typeof startEdge>>;
const bearer = { authorization: `Bearer ${STATIC_TOKEN}` };

before(async () => {
  peers = await startPeers(behaviour);
  edge = await startEdge(peers.address);
});
after(async () => {
  await edge.stop();
  peers.stop();
});

async function firmwareDevice(id: string, headers: Record<string, string> = bearer) {
  const d = new TestDevice(edge.url, headers);
  await d.opened;
  d.send({ session_id: id });
  assert.deepEqual(await d.next(), { status: "connected", session_id: id });
  return d;
}

/** Streams like the firmware: 4096-byte frames, never more than 2 unacknowledged. */
async function firmwareUtterance(d: TestDevice, pcm: Buffer) {
  let sent = 0;
  let acked = 0;
  for (let at = 0; at < pcm.length; at += FIRMWARE_FRAME_BYTES) {
    d.ws.send(pcm.subarray(at, at + FIRMWARE_FRAME_BYTES));
    sent++;
    if (sent - acked >= 2) {
      const ack = await d.until((m) => m.status === "receiving");
      acked = ack.chunks_received as number;
    }
  }
  d.send({ signal: "EOS" });
  return sent;
}

async function collectFirmwareReply(d: TestDevice) {
  const frames: Buffer[] = [];
  for (;;) {
    const m = await d.next();
    if (Buffer.isBuffer(m)) {
      if (m.length === 0) break;
      frames.push(m);
    }
  }
  return frames;
}

test("edge - firmware device: ACKs every 2nd chunk, status sequence, WAV in 4096-byte frames, zero frame, complete", async () => {
  const d = await firmwareDevice("esp32-cam-hotpin-001");
  await firmwareUtterance(d, tone(16 * FIRMWARE_FRAME_BYTES));
  assert.deepEqual(await d.until((m) => m.status === "processing"), { status: "processing", stage: "transcription" });
  assert.deepEqual(await d.next(), {
    status: "processing",
    stage: "llm",
    transcript: "go forward ten meters",
    has_image: false,
  });
  assert.deepEqual(await d.next(), {
    status: "processing",
    stage: "tts",
    response: "Hello there. You said something.",
  });
  const frames = await collectFirmwareReply(d);
  assert.ok(frames.slice(0, -1).every((f) => f.length === FIRMWARE_FRAME_BYTES));
  const wav = Buffer.concat(frames);
  assert.equal(wav.readUInt32LE(40), wav.length - 44);
  assert.equal(parseWav(wav).format.sampleRate, 16_000);
  assert.deepEqual(await d.next(), { status: "complete" });
  // The turn was stored, and the next question carries it as history.
  const before = peers.histories.length;
  await firmwareUtterance(d, tone(4 * FIRMWARE_FRAME_BYTES));
  await collectFirmwareReply(d);
  assert.deepEqual(await d.next(), { status: "complete" });
  assert.deepEqual(peers.histories[before], ["go forward ten meters", "Hello there. You said something."]);
  d.ws.close();
});

test("edge - firmware silence is answered with the 'Could not understand audio' error", async () => {
  const d = await firmwareDevice("quiet-pin");
  await firmwareUtterance(d, Buffer.alloc(8 * FIRMWARE_FRAME_BYTES));
  assert.deepEqual(await d.until((m) => m.status === "error"), { status: "error", message: NOT_UNDERSTOOD });
  d.ws.close();
});

async function specDevice(id: string, extra = "") {
  const d = new TestDevice(`${edge.url}?session=${id}&token=${STATIC_TOKEN}${extra}`);
  await d.opened;
  assert.equal(((await d.next()) as Record<string, unknown>).type, "ready");
  return d;
}

async function specUtterance(d: TestDevice, pcm: Buffer, chunk = 16_000) {
  d.send({ type: "recording_started" });
  let seq = 0;
  for (let at = 0; at < pcm.length; at += chunk) {
    const part = pcm.subarray(at, at + chunk);
    d.send({ type: "audio_chunk_meta", seq: ++seq, len_bytes: part.length });
    d.ws.send(part);
  }
  d.send({ type: "recording_stopped" });
}

test("edge - spec device: partial, transcript, llm, pull playback and tts_done", async () => {
  const d = await specDevice("spec-pin");
  await specUtterance(d, tone(64_000));
  const acks = [];
  let m = await d.until((x) => x.type === "ack" || x.type === "partial");
  while (m.type === "ack") {
    acks.push(m.seq);
    m = await d.until((x) => x.type === "ack" || x.type === "partial");
  }
  assert.deepEqual(acks, [2, 4]);
  assert.deepEqual(m, { type: "partial", text: "go", stable: false });
  assert.deepEqual(await d.until((x) => x.type === "transcript"), {
    type: "transcript",
    text: "go forward ten meters",
    final: true,
  });
  assert.equal((await d.until((x) => x.type === "llm")).text, "Hello there. You said something.");
  const ready = await d.until((x) => x.type === "tts_ready");
  assert.equal(ready.duration_ms, 500);
  d.send({ type: "ready_for_playback" });
  const bins: Buffer[] = [];
  for (;;) {
    const x = await d.next();
    if (Buffer.isBuffer(x)) bins.push(x);
    else if (x.type === "tts_done") break;
  }
  assert.equal(Buffer.concat(bins).length, ready.bytes);
  d.send({ type: "playback_complete" });
  assert.equal((await d.until((x) => x.type === "state_sync" && x.server_state === "idle")).server_state, "idle");
  d.ws.close();
});

test("edge - spec device that never says ready_for_playback gets offer_download; the URL serves the WAV, then 404", async () => {
  const d = await specDevice("spec-lazy");
  await specUtterance(d, tone(32_000));
  const offer = await d.until((x) => x.type === "offer_download");
  const res = await fetch(`${edge.http}${offer.url}`);
  assert.equal(res.status, 200);
  const wav = Buffer.from(await res.arrayBuffer());
  assert.equal(wav.toString("ascii", 0, 4), "RIFF");
  assert.equal(wav.readUInt32LE(40), wav.length - 44);
  assert.equal((await fetch(`${edge.http}/download/${"x".repeat(24)}`)).status, 404);
  d.ws.close();
});

test("edge - silence three times: request_rerecord twice, then request_user_intervention", async () => {
  const d = await specDevice("spec-silent");
  const seen = [];
  for (let i = 0; i < 3; i++) {
    await specUtterance(d, Buffer.alloc(32_000));
    const m = await d.until((x) => x.type === "request_rerecord" || x.type === "request_user_intervention");
    seen.push([m.type, m.code ?? null]);
  }
  assert.deepEqual(seen, [
    ["request_rerecord", "silence"],
    ["request_rerecord", "silence"],
    ["request_user_intervention", null],
  ]);
  d.ws.close();
});

test("edge - each bad spec input gets its specific error and the socket keeps working", async () => {
  const d = await specDevice("spec-bad");
  const expectError = async (send: () => void, code: string) => {
    send();
    const m = await d.until((x) => x.type === "error");
    assert.equal(m.code, code);
  };
  await expectError(() => d.ws.send("not json"), "bad_json");
  await expectError(() => d.send({ type: "teleport" }), "unknown_type");
  await expectError(() => d.ws.send(Buffer.alloc(10)), "binary_without_meta");
  await expectError(() => d.send({ type: "recording_stopped" }), "illegal_state");
  d.send({ type: "recording_started" });
  await expectError(() => d.send({ type: "audio_chunk_meta", seq: 1, len_bytes: 7 }), "bad_chunk");
  await expectError(() => {
    d.send({ type: "audio_chunk_meta", seq: 1, len_bytes: 8 });
    d.ws.send(Buffer.alloc(10));
  }, "bad_chunk");
  d.send({ type: "ping" });
  assert.deepEqual(await d.until((x) => x.type === "pong"), { type: "pong" });
  d.ws.close();
});

test("edge - an oversize frame closes that socket with 1009 while another device completes", async () => {
  const other = await firmwareDevice("bystander");
  const bad = await specDevice("spec-huge");
  bad.ws.send(Buffer.alloc(70_000));
  assert.equal((await bad.closed).code, 1009);
  await firmwareUtterance(other, tone(6 * FIRMWARE_FRAME_BYTES));
  await collectFirmwareReply(other);
  assert.deepEqual(await other.next(), { status: "complete" });
  other.ws.close();
});

test("edge - missing, wrong and expired tokens are refused before the upgrade", async () => {
  await assert.rejects(new TestDevice(edge.url).opened, /HTTP 401/);
  await assert.rejects(new TestDevice(edge.url, { authorization: "Bearer nope" }).opened, /HTTP 401/);
  const expired = await issueToken(SECRET, "pin-x", 60, Date.now() - 120_000);
  await assert.rejects(new TestDevice(`${edge.url}?session=pin-x&token=${expired}`).opened, /HTTP 401/);
  const forOther = await issueToken(SECRET, "pin-y", 60);
  await assert.rejects(new TestDevice(`${edge.url}?session=pin-x&token=${forOther}`).opened, /HTTP 403/);
});

test("edge - a signed token works for its own device and not for a firmware claiming another", async () => {
  const own = await firmwareDevice("pin-signed", {
    authorization: `Bearer ${await issueToken(SECRET, "pin-signed", 60)}`,
  });
  own.ws.close();
  const d = new TestDevice(edge.url, { authorization: await issueToken(SECRET, "pin-signed", 60) });
  await d.opened;
  d.send({ session_id: "someone-else" });
  assert.equal((await d.closed).code, 4003);
});

test("edge - a second connection for the same device replaces the first", async () => {
  const first = await firmwareDevice("dup-pin");
  const second = await firmwareDevice("dup-pin");
  assert.equal((await first.closed).code, 4001);
  await firmwareUtterance(second, tone(4 * FIRMWARE_FRAME_BYTES));
  await collectFirmwareReply(second);
  assert.deepEqual(await second.next(), { status: "complete" });
  second.ws.close();
});

test("edge - a spec client that waits silently is greeted with ready, then identifies with hello", async () => {
  const d = new TestDevice(edge.url, bearer);
  await d.opened;
  assert.equal(((await d.next()) as Record<string, unknown>).type, "ready");
  d.send({ type: "hello", session: "late-hello" });
  const ready = await d.until((x) => x.type === "ready");
  assert.equal(ready.session, "late-hello");
  assert.equal(typeof ready.session_id, "string");
  d.ws.close();
});

test("edge - no LLM configured: the firmware hears the spoken apology, then gets the error", async () => {
  behaviour.llm = "unconfigured";
  try {
    const d = await firmwareDevice("sorry-pin");
    await firmwareUtterance(d, tone(4 * FIRMWARE_FRAME_BYTES));
    const stage = await d.until((m) => m.stage === "tts");
    assert.match(String(stage.response), /no language model/);
    const wav = Buffer.concat(await collectFirmwareReply(d));
    assert.equal(wav.readUInt32LE(40), wav.length - 44);
    const err = await d.next();
    assert.equal((err as Record<string, unknown>).error_type, "llm_unconfigured");
    d.ws.close();
  } finally {
    behaviour.llm = "ok";
  }
});

test("edge - 20 firmware devices at once all complete", async () => {
  const devices = await Promise.all(Array.from({ length: 20 }, (_, i) => firmwareDevice(`fleet-${i}`)));
  const results = await Promise.all(
    devices.map(async (d) => {
      await firmwareUtterance(d, tone(6 * FIRMWARE_FRAME_BYTES));
      await collectFirmwareReply(d);
      const done = await d.next();
      d.ws.close();
      return done;
    }),
  );
  assert.deepEqual(
    results,
    devices.map(() => ({ status: "complete" })),
  );
});
