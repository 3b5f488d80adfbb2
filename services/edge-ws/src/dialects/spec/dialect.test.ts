import assert from "node:assert/strict";
import { test } from "node:test";
import { RecordingTransport } from "../../recording-transport.test-util";
import type { Parsed, PlaybackControl } from "../dialect";
import { replyOf } from "../reply.test-util";
import { SPEC_TTS_CHUNK_BYTES, SpecDialect } from "./dialect";

const code = (p: Parsed) => ("error" in p ? p.error.code : undefined);

function dialect(max = 32_000) {
  const t = new RecordingTransport();
  return { t, d: new SpecDialect(t, { maxChunkBytes: max }) };
}

function control(ready: boolean): PlaybackControl & { offered: Buffer[] } {
  const offered: Buffer[] = [];
  return {
    offered,
    waitReady: async () => ready,
    offerDownload: async (wav) => {
      offered.push(wav);
      return { url: "/download/tok", expiresInSec: 300 };
    },
    pace: { bytesPerSecond: 32_000, leadMs: 60_000, highWaterBytes: 1 << 20 },
    playbackReadyTimeoutMs: 10,
    firstAudio() {},
    beforeDone: async () => undefined,
  };
}

const reply = (...pcm: Buffer[]) => replyOf("answer", ...pcm);

test("spec dialect - every client message type is understood", () => {
  const { d } = dialect();
  assert.deepEqual(d.text('{"type":"hello","session":"pin","capabilities":{"max_chunk_bytes":8000}}'), {
    inputs: [{ type: "hello", deviceId: "pin", ttsSegments: false }],
  });
  for (const [type, input] of [
    ["client_on", "client_on"],
    ["recording_started", "start_recording"],
    ["recording_stopped", "stop_recording"],
    ["image_captured", "image_captured"],
    ["ready_for_playback", "ready_for_playback"],
    ["playback_complete", "playback_complete"],
    ["ping", "ping"],
  ]) {
    assert.deepEqual(d.text(JSON.stringify({ type })), { inputs: [{ type: input }] }, type);
  }
});

test("spec dialect - a chunk is meta then exactly one binary frame; len is an alias of len_bytes", () => {
  const { d } = dialect();
  assert.deepEqual(d.text('{"type":"audio_chunk_meta","seq":1,"len_bytes":4}'), { inputs: [] });
  const pcm = Buffer.alloc(4);
  assert.deepEqual(d.binary(pcm), { inputs: [{ type: "audio", pcm, seq: 1 }] });
  assert.deepEqual(d.text('{"type":"audio_chunk_meta","seq":2,"len":4}'), { inputs: [] });
  assert.deepEqual(d.binary(pcm), { inputs: [{ type: "audio", pcm, seq: 2 }] });
});

test("spec dialect - each bad input has its own error code", () => {
  const { d, t } = dialect();
  assert.equal(code(d.text("{oops")), "bad_json");
  assert.equal(code(d.text('{"no":"type"}')), "bad_message");
  assert.equal(code(d.text('{"type":"dance"}')), "unknown_type");
  assert.equal(code(d.binary(Buffer.alloc(4))), "binary_without_meta");
  assert.equal(code(d.text('{"type":"audio_chunk_meta","seq":1,"len_bytes":3}')), "bad_chunk");
  assert.equal(code(d.text('{"type":"audio_chunk_meta","seq":-1,"len_bytes":4}')), "bad_chunk");
  assert.equal(code(d.text('{"type":"audio_chunk_meta","seq":1,"len_bytes":64000}')), "bad_chunk");
  d.text('{"type":"audio_chunk_meta","seq":1,"len_bytes":4}');
  assert.equal(code(d.binary(Buffer.alloc(6))), "bad_chunk");
  // A meta whose binary never came: the next text message still works and the loss is reported.
  d.text('{"type":"audio_chunk_meta","seq":2,"len_bytes":4}');
  assert.deepEqual(d.text('{"type":"recording_stopped"}'), { inputs: [{ type: "stop_recording" }] });
  assert.equal(t.texts().at(-1)?.code, "meta_without_binary");
});

test("spec dialect - hello lowers the chunk limit, never raises it", () => {
  const { d } = dialect(8000);
  d.text('{"type":"hello","capabilities":{"max_chunk_bytes":4000}}');
  assert.equal(code(d.text('{"type":"audio_chunk_meta","seq":1,"len_bytes":4002}')), "bad_chunk");
  const { d: d2 } = dialect(8000);
  d2.text('{"type":"hello","capabilities":{"max_chunk_bytes":100000}}');
  assert.equal(code(d2.text('{"type":"audio_chunk_meta","seq":1,"len_bytes":8002}')), "bad_chunk");
});

test("spec dialect - pull playback: tts_ready, then meta+binary chunks of one WAV, then tts_done", async () => {
  const { d, t } = dialect();
  const result = await d.play(reply(Buffer.alloc(20_000, 1), Buffer.alloc(12_000, 2)), control(true));
  assert.equal(result.outcome, "played");
  const texts = t.texts();
  assert.deepEqual(texts[0], { type: "tts_ready", duration_ms: 1000, sampleRate: 16000, format: "wav", bytes: 32_044 });
  assert.equal(texts.at(-1)?.type, "tts_done");
  const metas = texts.filter((m) => m.type === "tts_chunk_meta");
  const bins = t.binaries();
  assert.equal(metas.length, bins.length);
  for (const [i, m] of metas.entries()) assert.equal(m.len_bytes, bins[i]?.length);
  assert.ok(bins.every((b) => b.length <= SPEC_TTS_CHUNK_BYTES));
  const wav = Buffer.concat(bins);
  assert.equal(wav.toString("ascii", 0, 4), "RIFF");
  assert.equal(wav.readUInt32LE(40), 32_000);
});

test("spec dialect - no ready_for_playback: offer_download with the stored WAV, no audio pushed", async () => {
  const { d, t } = dialect();
  const c = control(false);
  const result = await d.play(reply(Buffer.alloc(3200)), c);
  assert.equal(result.outcome, "offered");
  assert.equal(c.offered[0]?.length, 3244);
  assert.deepEqual(t.texts().at(-1), { type: "offer_download", url: "/download/tok", expires_in: 300 });
  assert.equal(t.binaries().length, 0);
});

test("spec dialect - tts_segments: one tts_ready and WAV per sentence, tts_done once", async () => {
  const { d, t } = dialect();
  d.text('{"type":"hello","capabilities":{"tts_segments":true}}');
  await d.play(reply(Buffer.alloc(3200), Buffer.alloc(6400)), control(true));
  const readies = t.texts().filter((m) => m.type === "tts_ready");
  assert.deepEqual(
    readies.map((r) => [r.segment, r.duration_ms]),
    [
      [0, 100],
      [1, 200],
    ],
  );
  assert.equal(t.texts().filter((m) => m.type === "tts_done").length, 1);
});

test("spec dialect - server messages carry the seed's shapes", () => {
  const { d, t } = dialect();
  d.send({ type: "connected", deviceId: "pin", sessionId: "s1" });
  d.send({ type: "ack", chunks: 2, bytes: 100, seq: 7 });
  d.send({ type: "rerecord", reason: "silence", attempt: 1 });
  d.send({ type: "intervention", message: "Too many re-recording attempts" });
  d.send({ type: "state", state: "processing", message: "m" });
  d.send({ type: "pong" });
  assert.deepEqual(t.texts(), [
    { type: "ready", session: "pin", session_id: "s1" },
    { type: "ack", ref: "chunk", seq: 7, chunks: 2 },
    { type: "request_rerecord", reason: "Only silence was heard", code: "silence", attempt: 1 },
    { type: "request_user_intervention", message: "Too many re-recording attempts" },
    { type: "state_sync", server_state: "processing", message: "m" },
    { type: "pong" },
  ]);
});
