import assert from "node:assert/strict";
import { test } from "node:test";
import { SESAME_PATH } from "@hotpin/sesame";
import { RecordingTransport } from "../../recording-transport.test-util";
import type { PlaybackControl } from "../dialect";
import { webSocketDialects } from "../registry";
import { replyOf } from "../reply.test-util";
import { SESAME_CAPABILITIES, SesameDialect } from "./dialect";

const SESSION = "session-1";

function connected() {
  const t = new RecordingTransport();
  const d = new SesameDialect(t, 60);
  d.send({ type: "connected", deviceId: "pi", sessionId: SESSION });
  return { t, d };
}

function call(d: SesameDialect) {
  d.text(JSON.stringify({ type: "call_connect", request_id: "rc", content: { sample_rate: 24_000 } }));
}

function ctl(signal?: AbortSignal) {
  const marks: string[] = [];
  const c: PlaybackControl = {
    waitReady: async () => true,
    offerDownload: async () => ({ url: "", expiresInSec: 0 }),
    pace: { bytesPerSecond: 48_000, leadMs: 5_000, highWaterBytes: 1 << 20, ...(signal ? { signal } : {}) },
    playbackReadyTimeoutMs: 1_000,
    firstAudio: () => marks.push("first_audio"),
    beforeDone: async (bytes) => {
      marks.push(`done ${bytes}`);
    },
  };
  return { c, marks };
}

test("sesame dialect - served at the client's path with its id_token; always listening with barge-in at 24 kHz", () => {
  assert.equal(webSocketDialects.fromPath(SESAME_PATH)?.name, "sesame");
  assert.equal(webSocketDialects.fromPath("/ws"), undefined);
  const route = webSocketDialects.fromPath(SESAME_PATH)?.detect.route;
  assert.equal(route?.tokenParam, "id_token");
  assert.equal(route?.perMessageDeflate, true);
  assert.equal(route?.checkQuery?.(new URLSearchParams("id_token=a.b.c&usercontext=%7B%7D")), undefined);
  assert.match(route?.checkQuery?.(new URLSearchParams("id_token=a.b.c&usercontext=nope")) ?? "", /usercontext/);
  assert.deepEqual(
    [SESAME_CAPABILITIES.turn.name, SESAME_CAPABILITIES.inputRate, SESAME_CAPABILITIES.outputRate],
    ["vad", 24_000, 24_000],
  );
  assert.equal(SESAME_CAPABILITIES.bargeIn, true);
});

test("sesame dialect - every client message: initialize once, call handshake, ping, audio, disconnect, unknown", () => {
  const { t, d } = connected();
  d.send({ type: "connected", deviceId: "pi", sessionId: SESSION }); // never a second initialize
  assert.deepEqual(t.texts(), [{ type: "initialize", session_id: SESSION, content: { session_id: SESSION } }]);
  const audio = JSON.stringify({ type: "audio", content: { audio_data: Buffer.alloc(1274).toString("base64") } });
  assert.deepEqual(d.text(audio), { error: { code: "illegal_state", message: "audio before call_connect" } });
  assert.deepEqual(d.text(JSON.stringify({ type: "client_location_state", content: { timezone: "UTC" } })), {
    inputs: [],
  });
  assert.deepEqual(
    d.text(JSON.stringify({ type: "call_connect", request_id: "r0", content: { sample_rate: 16_000 } })),
    { error: { code: "bad_message", message: "this server streams audio at 24000 Hz" } },
  );
  call(d);
  const response = t.texts().at(-1) as { type: string; call_id: string; request_id: string; content: unknown };
  assert.equal(response.type, "call_connect_response");
  assert.equal(response.request_id, "rc");
  assert.ok(response.call_id);
  assert.deepEqual(response.content, { sample_rate: 24_000 });
  assert.deepEqual(d.text(JSON.stringify({ type: "ping", request_id: "rp", content: "ping" })), {
    inputs: [{ type: "ping" }],
  });
  d.send({ type: "pong" });
  assert.deepEqual(t.texts().at(-1), {
    type: "ping_response",
    session_id: SESSION,
    call_id: response.call_id,
    request_id: "rp",
    content: "pong",
  });
  const parsed = d.text(audio);
  assert.ok("inputs" in parsed && parsed.inputs[0]?.type === "audio" && parsed.inputs[0].pcm.length === 1274);
  assert.deepEqual(d.text(JSON.stringify({ type: "mystery" })), {
    error: { code: "unknown_type", message: "mystery is not served here" },
  });
  assert.equal("error" in d.text("{"), true);
  assert.equal("error" in d.binary(), true);
  assert.deepEqual(d.text(JSON.stringify({ type: "call_disconnect", request_id: "rd" })), {
    inputs: [{ type: "abort" }],
  });
  assert.equal((t.texts().at(-1) as { request_id: string }).request_id, "rd");
  assert.equal((t.texts().at(-1) as { type: string }).type, "call_disconnect_response");
});

test("sesame dialect - our text as chat, errors as the client logs them, the rest unsaid", () => {
  const { t, d } = connected();
  call(d);
  const before = t.sent.length;
  d.send({ type: "transcript", text: "go forward", hasImage: false });
  d.send({ type: "answer", text: "Moving." });
  d.send({ type: "error", code: "stt_failed", message: "no" });
  for (const out of [
    { type: "processing" },
    { type: "complete" },
    { type: "interrupted", by: "barge_in" },
    { type: "rerecord", reason: "silence", attempt: 1 },
    { type: "state", state: "idle", message: "" },
  ] as const)
    d.send(out);
  const sent = t.texts().slice(before) as { type: string; content: unknown }[];
  assert.deepEqual(
    sent.map((m) => [m.type, m.content]),
    [
      ["chat", { messages: [{ role: "user", text: "go forward" }] }],
      ["chat", { messages: [{ role: "assistant", text: "Moving." }] }],
      ["error", { code: "stt_failed", message: "no" }],
    ],
  );
});

test("sesame dialect - a reply goes out as 40 ms audio messages in order, then beforeDone", async () => {
  const { t, d } = connected();
  call(d);
  const before = t.sent.length;
  const pcm = Buffer.alloc(48_000 * 0.1); // 100 ms at 24 kHz: 40 + 40 + 20 ms
  for (let i = 0; i < pcm.length; i += 2) pcm.writeInt16LE(i, i);
  const { c, marks } = ctl();
  const result = await d.play(replyOf("Hi.", pcm), c);
  assert.deepEqual(result, { outcome: "played", bytes: pcm.length });
  const audio = t.texts().slice(before) as { type: string; content: { audio_data: string } }[];
  assert.deepEqual(
    audio.map((m) => [m.type, Buffer.from(m.content.audio_data, "base64").length]),
    [
      ["audio", 1920],
      ["audio", 1920],
      ["audio", 960],
    ],
  );
  assert.deepEqual(Buffer.concat(audio.map((m) => Buffer.from(m.content.audio_data, "base64"))), pcm);
  assert.deepEqual(marks, ["first_audio", `done ${pcm.length}`]);
});

test("sesame dialect - an aborted reply stops at once and never reaches beforeDone", async () => {
  const { t, d } = connected();
  call(d);
  const before = t.sent.length;
  const abort = new AbortController();
  const { c, marks } = ctl(abort.signal);
  // 10 s of audio: at 60 ms of lead, the dialect waits on its clock after two messages.
  const playing = d.play(replyOf("Long.", Buffer.alloc(48_000 * 10)), c);
  await new Promise((r) => setTimeout(r, 30));
  abort.abort();
  const result = await playing;
  assert.equal(result.outcome, "aborted");
  const sent = t.sent.length - before;
  assert.ok(sent >= 1 && sent <= 3, `${sent} audio messages before the abort`);
  assert.equal(result.bytes, sent * 1920);
  assert.deepEqual(marks, ["first_audio"]);
});
