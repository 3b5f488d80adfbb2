import assert from "node:assert/strict";
import { test } from "node:test";
import { OpusDecoder, OpusEncoder } from "@hotpin/audio";
import { type ConnectRequest, encodeAudioFrame, type ProtocolVersion } from "@hotpin/xiaozhi";
import { readEdgeConfig } from "../../config";
import { RecordingTransport } from "../../recording-transport.test-util";
import type { Parsed, PlaybackControl } from "../dialect";
import { replyOf } from "../reply.test-util";
import { XiaozhiDialect } from "./dialect";
import { FrameCutter } from "./frame-cutter";

const cfg = readEdgeConfig({ HOTPIN_EDGE_XIAOZHI_BURST_FRAMES: "5" });
const SID = "b782b813-40eb-4264-b998-478f948d7e32";

function dialect(version: ProtocolVersion = 1, idleMs?: number) {
  const connect: ConnectRequest = {
    deviceId: "a1:b2:c3:d4:e5:f6",
    clientId: "c0ffee00-1111-2222-3333-444455556666",
    protocolVersion: version,
    token: "t",
  };
  const t = new RecordingTransport();
  const d = new XiaozhiDialect(t, { connect, cfg: idleMs ? { ...cfg, xiaozhiIdleMs: idleMs } : cfg });
  return { d, t };
}

const code = (p: Parsed) => ("error" in p ? p.error.code : "ok");
const types = (p: Parsed) => ("inputs" in p ? p.inputs.map((i) => i.type) : []);

function ctl(signal?: AbortSignal): PlaybackControl & { firsts: number; done: number[] } {
  return {
    firsts: 0,
    done: [],
    waitReady: async () => true,
    offerDownload: async () => ({ url: "", expiresInSec: 0 }),
    pace: { bytesPerSecond: 48_000, leadMs: 0, highWaterBytes: 1 << 20, ...(signal ? { signal } : {}) },
    playbackReadyTimeoutMs: 10,
    firstAudio() {
      this.firsts++;
    },
    async beforeDone(bytes) {
      this.done.push(bytes);
    },
  };
}

/** `ms` of a 440 Hz tone, PCM16 at 24 kHz. */
function tone24(ms: number): Buffer {
  const n = (24 * ms) | 0;
  const b = Buffer.alloc(n * 2);
  for (let i = 0; i < n; i++) b.writeInt16LE(Math.round(6000 * Math.sin((2 * Math.PI * 440 * i) / 24_000)), i * 2);
  return b;
}

test("xiaozhi dialect - hello identifies the device its headers named; listen, abort, mcp and iot become inputs", () => {
  const { d } = dialect();
  const hello = d.text(
    '{"type":"hello","version":1,"features":{"mcp":true},"transport":"websocket","audio_params":{"format":"opus","sample_rate":16000,"channels":1,"frame_duration":60}}',
  );
  assert.deepEqual(hello, { inputs: [{ type: "hello", deviceId: "a1:b2:c3:d4:e5:f6" }] });
  assert.deepEqual(types(d.text('{"session_id":"","type":"listen","state":"start","mode":"manual"}')), [
    "start_recording",
  ]);
  assert.deepEqual(types(d.text('{"type":"listen","state":"stop"}')), ["stop_recording"]);
  // A second stop has no turn to end: nothing, not an error.
  assert.deepEqual(types(d.text('{"type":"listen","state":"stop"}')), []);
  // auto and realtime: the VAD makes the turns, the start only says how.
  assert.deepEqual(types(d.text('{"type":"listen","state":"start","mode":"auto"}')), []);
  assert.equal(d.listenMode, "auto");
  assert.deepEqual(types(d.text('{"type":"listen","state":"start","mode":"realtime"}')), []);
  assert.equal(d.listenMode, "realtime");
  assert.deepEqual(d.text('{"type":"listen","state":"detect","text":"你好小智"}'), {
    inputs: [{ type: "wake_word", word: "你好小智" }],
  });
  assert.deepEqual(types(d.text('{"type":"abort","reason":"wake_word_detected"}')), ["abort"]);
  assert.deepEqual(types(d.text('{"type":"abort"}')), ["abort"]);
  assert.deepEqual(types(d.text('{"type":"mcp","payload":{"jsonrpc":"2.0","id":1,"result":{}}}')), []);
  assert.deepEqual(types(d.text('{"type":"iot","descriptors":[]}')), []);
  d.dispose();
});

test("xiaozhi dialect - malformed text is refused with a protocol error, never thrown", () => {
  const { d } = dialect();
  assert.equal(code(d.text("not json")), "bad_message");
  assert.equal(code(d.text("[1,2]")), "bad_message");
  assert.equal(code(d.text('{"type":"goodbye"}')), "unknown_type");
  assert.equal(code(d.text('{"type":"listen","state":"start","mode":"loud"}')), "bad_message");
  assert.equal(code(d.text('{"type":"listen","state":"detect"}')), "bad_message");
  assert.equal(code(d.text('{"type":"hello","transport":"udp"}')), "bad_message");
  assert.equal(code(d.text('{"type":"mcp","payload":3}')), "bad_message");
  assert.equal(code(d.text(`{"type":"listen","state":"start","x":"${"a".repeat(70_000)}"}`)), "bad_message");
  d.dispose();
});

test("xiaozhi dialect - Opus 16 kHz 60 ms up, v1/v2/v3, DTX packets of 1-3 bytes decode; garbage is bad_audio", () => {
  const enc = new OpusEncoder({ sampleRate: 16_000, frameMs: 60, application: "audio", complexity: 0, dtx: true });
  try {
    const speech = Int16Array.from({ length: 960 }, (_, i) => Math.round(8000 * Math.sin(i / 3)));
    for (const version of [1, 2, 3] as const) {
      const { d } = dialect(version);
      d.text('{"type":"listen","state":"start","mode":"auto"}');
      const parsed = d.binary(encodeAudioFrame(version, enc.encode(speech)));
      assert.ok("inputs" in parsed && parsed.inputs[0]?.type === "audio");
      const input = parsed.inputs[0] as { pcm: Buffer };
      assert.equal(input.pcm.length, 960 * 2, `v${version}: one 60 ms frame of 16 kHz PCM`);
      d.dispose();
    }
    const { d } = dialect();
    d.text('{"type":"listen","state":"start","mode":"auto"}');
    let dtx = 0;
    for (let i = 0; i < 40; i++) {
      const packet = enc.encode(new Int16Array(960));
      if (packet.length > 3) continue;
      dtx++;
      const p = d.binary(packet);
      assert.ok("inputs" in p && (p.inputs[0] as { pcm: Buffer }).pcm.length === 1920, "DTX decodes to a frame");
    }
    assert.ok(dtx > 0, "the encoder made DTX packets");
    assert.equal(code(d.binary(Buffer.alloc(5000))), "bad_audio");
    const v2 = dialect(2).d;
    assert.equal(code(v2.binary(Buffer.alloc(8))), "bad_audio", "shorter than the v2 header");
    v2.dispose();
    d.dispose();
  } finally {
    enc.free();
  }
});

test("xiaozhi dialect - manual mode: audio after listen stop is not the turn's", () => {
  const enc = new OpusEncoder({ sampleRate: 16_000, frameMs: 60, application: "audio", complexity: 0 });
  const { d } = dialect();
  try {
    const packet = enc.encode(new Int16Array(960).fill(1000));
    d.text('{"type":"listen","state":"start","mode":"manual"}');
    assert.deepEqual(types(d.binary(packet)), ["audio"]);
    d.text('{"type":"listen","state":"stop"}');
    assert.deepEqual(types(d.binary(packet)), []);
  } finally {
    enc.free();
    d.dispose();
  }
});

test("xiaozhi dialect - outputs: server hello with the real downlink, stt, llm, alerts for failures, errors for protocol faults", () => {
  const { d, t } = dialect();
  d.send({ type: "connected", deviceId: "a1:b2:c3:d4:e5:f6", sessionId: SID });
  d.send({ type: "processing" });
  d.send({ type: "transcript", text: "go\nforward", hasImage: false });
  d.send({ type: "answer", text: "ok" });
  d.send({ type: "rerecord", reason: "silence", attempt: 1 });
  d.send({ type: "error", code: "llm_failed", message: "The assistant could not answer." });
  d.send({ type: "error", code: "illegal_state", message: "audio is not allowed while processing" });
  d.send({ type: "complete" });
  d.send({ type: "state", state: "idle", message: "" });
  const [hello, stt, llm, rerecord, failure, fault, ...rest] = t.texts();
  assert.deepEqual(hello, {
    type: "hello",
    version: 1,
    transport: "websocket",
    session_id: SID,
    audio_params: { format: "opus", sample_rate: 24_000, channels: 1, frame_duration: 60 },
  });
  assert.deepEqual(stt, { type: "stt", text: "go forward", session_id: SID });
  assert.equal(llm?.type, "llm");
  assert.equal(rerecord?.type, "alert");
  assert.ok(rerecord?.status && rerecord.message && rerecord.emotion, "alert needs status, message and emotion");
  assert.equal(failure?.type, "alert");
  assert.deepEqual(fault, {
    type: "error",
    code: "illegal_state",
    message: "audio is not allowed while processing",
    session_id: SID,
  });
  assert.deepEqual(rest, [], "no tts stop without a reply; complete and state have no wire form");
  d.dispose();
});

test("xiaozhi dialect - a reply: tts start, sentence_start per sentence, 60 ms packets that decode at 24 kHz, tts stop with complete", async () => {
  const { d, t } = dialect();
  d.send({ type: "connected", deviceId: "x", sessionId: SID });
  const c = ctl();
  // Two sentences whose lengths are not whole frames: the cutter carries the rest over.
  const result = await d.play(replyOf("One.", tone24(250), tone24(190)), c);
  assert.equal(result.outcome, "played");
  assert.equal(result.bytes, (tone24(250).length + tone24(190).length) | 0);
  assert.deepEqual(c.done, [result.bytes]);
  assert.equal(c.firsts, 1);
  const kinds = t.sent.map((s) => (typeof s === "string" ? `${JSON.parse(s).type}:${JSON.parse(s).state}` : "opus"));
  assert.deepEqual(kinds.slice(0, 3), ["hello:undefined", "tts:start", "tts:sentence_start"]);
  assert.equal(kinds.filter((k) => k === "opus").length, 8, "440 ms → 8 frames of 60 ms (the last padded)");
  assert.ok(!kinds.includes("tts:stop"), "tts stop waits for the core's end of the reply");
  d.send({ type: "complete" });
  assert.deepEqual(t.texts().at(-1), { type: "tts", state: "stop", session_id: SID });
  const dec = new OpusDecoder(24_000);
  try {
    for (const p of t.binaries()) assert.equal(dec.decode(p).length, 1440 * 2, "exactly one announced frame");
  } finally {
    dec.free();
  }
  d.dispose();
});

test("xiaozhi dialect - a device that announced protocol v2 or v3 gets its reply packets with that header", async () => {
  for (const version of [2, 3] as const) {
    const { d, t } = dialect(version);
    await d.play(replyOf("Hi.", tone24(120)), ctl());
    const packets = t.binaries();
    assert.equal(packets.length, 2);
    for (const p of packets) {
      const header = version === 2 ? 16 : 4;
      const size = version === 2 ? p.readUInt32BE(12) : p.readUInt16BE(2);
      assert.equal(size, p.length - header, `v${version}: the header's size is exact`);
      if (version === 2) assert.equal(p.readUInt16BE(0), 2);
    }
    d.dispose();
  }
});

test("xiaozhi dialect - packets are paced: a burst of five, then one per 60 ms", async () => {
  const { d, t } = dialect();
  const at: number[] = [];
  const send = t.sendBinary.bind(t);
  t.sendBinary = (b) => {
    at.push(performance.now());
    send(b);
  };
  await d.play(replyOf("Long.", tone24(600)), ctl());
  assert.equal(at.length, 10);
  const burst = (at[4] as number) - (at[0] as number);
  const paced = (at[9] as number) - (at[4] as number);
  // Never ahead of the device: packets 5-9 wait for four frames to play (a clock lower bound, not a race).
  assert.ok(paced >= 4 * 60 - 15, `packets 4 → 9 took ${paced.toFixed(0)} ms`);
  assert.ok(burst < paced, `the first five went at once (${burst.toFixed(0)} ms), the rest one per frame`);
  d.dispose();
});

test("xiaozhi dialect - an interrupted reply stops its audio and tts stop goes out at once", async () => {
  const { d, t } = dialect();
  const abort = new AbortController();
  const playing = d.play(replyOf("Long.", tone24(3000)), ctl(abort.signal));
  await new Promise((r) => setTimeout(r, 150));
  abort.abort();
  d.send({ type: "interrupted", by: "device" });
  const result = await playing;
  assert.equal(result.outcome, "aborted");
  const sentPackets = t.binaries().length;
  assert.ok(sentPackets < 20, `${sentPackets} of 50 packets`);
  assert.deepEqual(t.texts().at(-1), { type: "tts", state: "stop", session_id: "" });
  d.dispose();
});

test("xiaozhi dialect - a socket without text either way closes as idle", async () => {
  const { d, t } = dialect(1, 1_000);
  d.text('{"type":"listen","state":"start","mode":"auto"}');
  for (let i = 0; i < 100 && t.open; i++) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(t.closedWith, { reason: "normal", text: "idle" });
  d.dispose();
});

test("xiaozhi dialect - frames are cut to the announced length across sentences", () => {
  const cutter = new FrameCutter(1440);
  assert.equal(cutter.push(new Int16Array(1000)).length, 0);
  const frames = cutter.push(new Int16Array(2000));
  assert.deepEqual(
    frames.map((f) => f.length),
    [1440, 1440],
  );
  const last = cutter.flush();
  assert.deepEqual(
    last.map((f) => f.length),
    [1440],
  );
  assert.deepEqual(cutter.flush(), []);
});
