import assert from "node:assert/strict";
import { test } from "node:test";
import { parseWav } from "@hotpin/audio";
import { RecordingTransport } from "../../recording-transport.test-util";
import type { PlaybackControl } from "../dialect";
import { replyOf } from "../reply.test-util";
import { FIRMWARE_FRAME_BYTES, FirmwareDialect, NOT_UNDERSTOOD } from "./dialect";

const ctl = (): PlaybackControl & { first: number } => ({
  first: 0,
  waitReady: async () => true,
  offerDownload: async () => ({ url: "/download/x", expiresInSec: 300 }),
  pace: { bytesPerSecond: 32_000, leadMs: 60_000, highWaterBytes: 1 << 20 },
  playbackReadyTimeoutMs: 10,
  firstAudio() {
    this.first++;
  },
  beforeDone: async () => undefined,
});

test("firmware dialect - handshake, audio, EOS and RESET become inputs", () => {
  const d = new FirmwareDialect(new RecordingTransport());
  assert.deepEqual(d.text('{"session_id":"esp32-cam-hotpin"}'), {
    inputs: [{ type: "hello", deviceId: "esp32-cam-hotpin" }],
  });
  assert.deepEqual(d.text('{"signal":"EOS"}'), { inputs: [{ type: "stop_recording" }] });
  assert.deepEqual(d.text('{"signal":"RESET"}'), { inputs: [{ type: "reset" }] });
  const pcm = Buffer.alloc(4096);
  assert.deepEqual(d.binary(pcm), { inputs: [{ type: "audio", pcm }] });
});

test("firmware dialect - bad frames get specific errors", () => {
  const d = new FirmwareDialect(new RecordingTransport());
  assert.equal((d.text("not json") as { error: { code: string } }).error.code, "bad_json");
  assert.equal((d.text('{"signal":"NOPE"}') as { error: { code: string } }).error.code, "unknown_type");
  assert.equal((d.text("[1]") as { error: { code: string } }).error.code, "bad_message");
  assert.equal((d.binary(Buffer.alloc(3)) as { error: { code: string } }).error.code, "bad_chunk");
  assert.deepEqual(d.binary(Buffer.alloc(0)), { inputs: [] });
});

test("firmware dialect - status messages as the firmware reads them", () => {
  const t = new RecordingTransport();
  const d = new FirmwareDialect(t);
  d.send({ type: "connected", deviceId: "pin-1", sessionId: "s" });
  d.send({ type: "ack", chunks: 2, bytes: 8192 });
  d.send({ type: "processing" });
  d.send({ type: "transcript", text: "go forward", hasImage: false });
  d.send({ type: "rerecord", reason: "silence", attempt: 1 });
  d.send({ type: "error", code: "llm_failed", message: "m" });
  d.send({ type: "partial", text: "ignored" });
  d.send({ type: "state", state: "idle", message: "" });
  d.send({ type: "complete" });
  assert.deepEqual(t.texts(), [
    { status: "connected", session_id: "pin-1" },
    { status: "receiving", chunks_received: 2, bytes_received: 8192 },
    { status: "processing", stage: "transcription" },
    { status: "processing", stage: "llm", transcript: "go forward", has_image: false },
    { status: "error", message: NOT_UNDERSTOOD },
    { status: "error", message: "m", error_type: "llm_failed" },
    { status: "complete" },
  ]);
});

test("firmware dialect - reply is the tts stage, one WAV in 4096-byte frames, then a zero-length frame", async () => {
  const t = new RecordingTransport();
  const d = new FirmwareDialect(t);
  const pcm = [Buffer.alloc(5000, 1), Buffer.alloc(7000, 2)];
  const c = ctl();
  const result = await d.play(replyOf("Hello there.", ...pcm), c);
  assert.equal(result.outcome, "played");
  assert.deepEqual(t.texts(), [{ status: "processing", stage: "tts", response: "Hello there." }]);
  const bins = t.binaries();
  assert.equal(bins.at(-1)?.length, 0);
  const frames = bins.slice(0, -1);
  assert.ok(frames.slice(0, -1).every((f) => f.length === FIRMWARE_FRAME_BYTES));
  const wav = Buffer.concat(frames);
  assert.equal(wav.length, 44 + 12_000);
  assert.equal(wav.readUInt32LE(40), 12_000, "data size is the true size");
  assert.equal(wav.readUInt32LE(4), 36 + 12_000);
  const parsed = parseWav(wav);
  assert.deepEqual(parsed.format, { sampleRate: 16_000, channels: 1, bitsPerSample: 16 });
  assert.equal(c.first, 1);
  // The tts stage text comes before any audio: the decoder starts on it.
  assert.equal(typeof t.sent[0], "string");
});
