import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { parseWav } from "@hotpin/audio";
import { TEST_DEVICE_TOKEN } from "@hotpin/test-support";
import { FIRMWARE_FRAME_BYTES } from "./dialects/firmware";
import { GOFORWARD, meshSkip, useMesh } from "./mesh-fixture.test-util";
import { TestDevice } from "./test-peers.test-util";

/**
 * The whole mesh for real: NATS, storage, STT (PocketSphinx), LLM against the fake Groq, TTS
 * (espeak-ng) and this edge, each its own process. Set HOTPIN_EDGE_SKIP_MESH=1 to leave it out.
 */
const ANSWER = "Moving forward ten meters now.";
const skip = meshSkip("mesh end-to-end tests");

const fx = useMesh(skip, ANSWER);

test("mesh - firmware device: goforward.raw → transcript → fake Groq answer → valid WAV, zero frame, complete", {
  skip,
}, async () => {
  const d = new TestDevice(fx.wsUrl(), { authorization: `Bearer ${TEST_DEVICE_TOKEN}` });
  await d.opened;
  d.send({ session_id: "esp32-cam-hotpin" });
  assert.equal((await d.until((m) => "status" in m)).status, "connected");
  const pcm = readFileSync(GOFORWARD);
  let sent = 0;
  let acked = 0;
  for (let at = 0; at < pcm.length; at += FIRMWARE_FRAME_BYTES) {
    d.ws.send(pcm.subarray(at, at + FIRMWARE_FRAME_BYTES));
    if (++sent - acked >= 2) acked = (await d.until((m) => m.status === "receiving")).chunks_received as number;
  }
  d.send({ signal: "EOS" });
  const llmStage = await d.until((m) => m.stage === "llm" || m.status === "error");
  assert.match(String(llmStage.transcript), /go forward/);
  const tts = await d.until((m) => m.stage === "tts");
  assert.equal(tts.response, ANSWER);
  const frames: Buffer[] = [];
  for (;;) {
    const m = await d.next();
    if (!Buffer.isBuffer(m)) continue;
    if (m.length === 0) break;
    frames.push(m);
  }
  const wav = Buffer.concat(frames);
  assert.equal(wav.readUInt32LE(40), wav.length - 44);
  assert.deepEqual(parseWav(wav).format, { sampleRate: 16_000, channels: 1, bitsPerSample: 16 });
  assert.deepEqual(await d.next(), { status: "complete" });
  d.ws.close();
});

test("mesh - spec device: partials, transcript, llm, pull playback, tts_done; no ready gives a working download", {
  skip,
}, async () => {
  const d = new TestDevice(`${fx.wsUrl()}?session=spec-e2e&token=${TEST_DEVICE_TOKEN}`);
  await d.opened;
  await d.until((m) => m.type === "ready");
  const pcm = readFileSync(GOFORWARD);
  const utter = () => {
    d.send({ type: "recording_started" });
    let seq = 0;
    for (let at = 0; at < pcm.length; at += 16_000) {
      const part = pcm.subarray(at, at + 16_000);
      d.send({ type: "audio_chunk_meta", seq: ++seq, len_bytes: part.length });
      d.ws.send(part);
    }
    d.send({ type: "recording_stopped" });
  };
  utter();
  assert.match(String((await d.until((m) => m.type === "transcript")).text), /go forward/);
  assert.equal((await d.until((m) => m.type === "llm")).text, ANSWER);
  await d.until((m) => m.type === "tts_ready");
  d.send({ type: "ready_for_playback" });
  await d.until((m) => m.type === "tts_done");
  await d.until((m) => m.type === "state_sync" && m.server_state === "idle");
  utter();
  const offer = await d.until((m) => m.type === "offer_download");
  const res = await fetch(`${fx.mesh.edgeUrl}${offer.url}`);
  assert.equal(res.status, 200);
  assert.equal(Buffer.from(await res.arrayBuffer()).toString("ascii", 0, 4), "RIFF");
  d.ws.close();
});
