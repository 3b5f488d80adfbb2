import assert from "node:assert/strict";
import { test } from "node:test";
import { parseWav, toWav, WAV_HEADER_BYTES } from "@hotpin/audio";
import { ACK_PACKET, encodePacket, MAGIC, PacketParser, PacketType } from "@hotpin/dap1";
import { readEdgeConfig } from "../../config";
import type { ApologyKind } from "../../pipeline/apologies";
import { RecordingTransport } from "../../recording-transport.test-util";
import type { PlaybackControl, Reply } from "../dialect";
import { replyOf } from "../reply.test-util";
import { DAP1_MAX_REPLY_BYTES, Dap1Dialect } from "./dialect";

const cfg = readEdgeConfig({ HOTPIN_EDGE_DAP1_FIRST_REPLY_MS: "25000" });

/** A DAWN client's side, in memory: every DATA packet the dialect sends is ACKed at once. */
function setup() {
  const spoken: ApologyKind[] = [];
  const t = new RecordingTransport();
  const speech = {
    get: async (kind: ApologyKind) => {
      spoken.push(kind);
      return Buffer.alloc(3200, 1);
    },
  };
  const d = new Dap1Dialect(t, { cfg, speech, deviceId: "10.0.0.5" });
  const send = t.sendBinary.bind(t);
  t.sendBinary = (data: Buffer) => {
    send(data);
    if (data[5] === PacketType.DATA || data[5] === PacketType.DATA_END) queueMicrotask(() => d.binary(ACK_PACKET));
  };
  /** The packet types the dialect wrote, in order. */
  const types = () =>
    t
      .binaries()
      .flatMap((b) =>
        new PacketParser({ maxPayloadBytes: 1 << 20, maxBufferedBytes: 1 << 21 }).push(b).map((p) => p.type),
      );
  /** The reply WAV the client would assemble. */
  const replyWav = () =>
    Buffer.concat(
      t
        .binaries()
        .flatMap((b) => new PacketParser({ maxPayloadBytes: 1 << 20, maxBufferedBytes: 1 << 21 }).push(b))
        .filter((p) => p.type === PacketType.DATA || p.type === PacketType.DATA_END)
        .map((p) => p.payload),
    );
  return { t, d, spoken, types, replyWav };
}

const ctl = { firstAudio: () => {}, beforeDone: async () => {} } as unknown as PlaybackControl;
const reply = (...segments: Buffer[]): Reply => replyOf("", ...segments);

function upload(d: Dap1Dialect, wav: Buffer) {
  const inputs = [];
  for (let i = 0, seq = 0; i < wav.length; i += 8192, seq++) {
    const last = i + 8192 >= wav.length;
    const parsed = d.binary(encodePacket(last ? PacketType.DATA_END : PacketType.DATA, wav.subarray(i, i + 8192), seq));
    assert.ok("inputs" in parsed);
    inputs.push(...parsed.inputs);
  }
  return inputs;
}

test("dap1 dialect - the handshake is the hello; the WAV's PCM streams in; DATA_END stops the recording", () => {
  const { d, types } = setup();
  assert.deepEqual(d.binary(encodePacket(PacketType.HANDSHAKE, MAGIC)), {
    inputs: [{ type: "hello", deviceId: "10.0.0.5" }],
  });
  d.send({ type: "connected", deviceId: "10.0.0.5", sessionId: "s" });
  const pcm = Buffer.alloc(20_000, 7);
  const inputs = upload(d, toWav(pcm));
  const audio = Buffer.concat(inputs.flatMap((i) => (i.type === "audio" ? [i.pcm] : [])));
  assert.ok(audio.equals(pcm), "the header is not audio");
  assert.equal(inputs.at(-1)?.type, "stop_recording");
  assert.deepEqual(types(), [PacketType.ACK, PacketType.ACK, PacketType.ACK, PacketType.ACK]);
  d.dispose();
});

test("dap1 dialect - a bad checksum or a skipped chunk is NACKed; a repeat is ACKed and kept once", () => {
  const { d, types } = setup();
  d.binary(encodePacket(PacketType.HANDSHAKE, MAGIC));
  d.send({ type: "connected", deviceId: "10.0.0.5", sessionId: "s" });
  const chunk = toWav(Buffer.alloc(1000, 3));
  const bad = encodePacket(PacketType.DATA, chunk, 0);
  bad[12] = (bad[12] ?? 0) ^ 1;
  assert.deepEqual(d.binary(bad), { inputs: [] });
  const good = d.binary(encodePacket(PacketType.DATA, chunk, 0));
  assert.equal("inputs" in good && good.inputs.length, 1);
  assert.deepEqual(d.binary(encodePacket(PacketType.DATA, chunk, 0)), { inputs: [] });
  assert.deepEqual(d.binary(encodePacket(PacketType.DATA, chunk, 4)), { inputs: [] });
  assert.deepEqual(types(), [PacketType.ACK, PacketType.NACK, PacketType.ACK, PacketType.ACK, PacketType.NACK]);
  d.dispose();
});

test("dap1 dialect - a wrong version or a non-handshake first packet closes the connection", () => {
  const a = setup();
  const wrong = encodePacket(PacketType.HANDSHAKE, MAGIC);
  wrong[4] = 2;
  assert.equal((a.d.binary(wrong) as { error: { code: string } }).error.code, "bad_packet");
  assert.equal(a.t.open, false);
  const b = setup();
  assert.equal(
    (b.d.binary(encodePacket(PacketType.DATA, Buffer.alloc(4), 0)) as { error: { code: string } }).error.code,
    "bad_handshake",
  );
  assert.equal(b.t.open, false);
});

test("dap1 dialect - the reply is one canonical WAV under 960000 bytes, cut at a sentence boundary", async () => {
  const { d, t, replyWav } = setup();
  d.binary(encodePacket(PacketType.HANDSHAKE, MAGIC));
  d.send({ type: "connected", deviceId: "10.0.0.5", sessionId: "s" });
  upload(d, toWav(Buffer.alloc(9000, 1)));
  const sentence = Buffer.alloc(400_000, 2);
  const result = await d.play(reply(sentence, sentence, sentence), ctl);
  assert.deepEqual(result, { outcome: "played", bytes: 800_000 });
  const wav = replyWav().subarray(-(800_000 + WAV_HEADER_BYTES));
  assert.equal(wav.readUInt32LE(40), 800_000);
  assert.equal(parseWav(wav).data.length, 800_000);
  assert.equal(t.closedWith?.reason, "normal", "one exchange per connection");
});

test("dap1 dialect - a first sentence longer than the cap is cut to it", async () => {
  const { d, replyWav } = setup();
  d.binary(encodePacket(PacketType.HANDSHAKE, MAGIC));
  d.send({ type: "connected", deviceId: "10.0.0.5", sessionId: "s" });
  upload(d, toWav(Buffer.alloc(9000, 1)));
  await d.play(reply(Buffer.alloc(1_200_000, 2)), ctl);
  assert.equal(replyWav().length, DAP1_MAX_REPLY_BYTES, "the reply is exactly the cap");
});

test("dap1 dialect - failures are spoken: nothing understood, a bad WAV, a stage error; one reply only", async () => {
  const a = setup();
  a.d.binary(encodePacket(PacketType.HANDSHAKE, MAGIC));
  a.d.send({ type: "connected", deviceId: "10.0.0.5", sessionId: "s" });
  upload(a.d, toWav(Buffer.alloc(9000, 1)));
  a.d.send({ type: "rerecord", reason: "silence", attempt: 1 });
  a.d.send({ type: "error", code: "stt_failed", message: "x" });
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(a.spoken, ["not_understood"], "the second failure finds the reply already given");

  const b = setup();
  b.d.binary(encodePacket(PacketType.HANDSHAKE, MAGIC));
  b.d.send({ type: "connected", deviceId: "10.0.0.5", sessionId: "s" });
  const inputs = upload(b.d, Buffer.concat([Buffer.from("RIFX"), Buffer.alloc(10_000)]));
  assert.deepEqual(inputs, [], "a bad WAV never becomes a recording");
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(b.spoken, ["bad_audio"]);
});

test("dap1 dialect - no reply started within the first-reply deadline: a spoken 'taking too long'", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const { d, spoken } = setup();
  d.binary(encodePacket(PacketType.HANDSHAKE, MAGIC));
  d.send({ type: "connected", deviceId: "10.0.0.5", sessionId: "s" });
  upload(d, toWav(Buffer.alloc(9000, 1)));
  t.mock.timers.tick(24_999);
  await Promise.resolve();
  assert.deepEqual(spoken, []);
  t.mock.timers.tick(1);
  for (let i = 0; i < 5; i++) await Promise.resolve();
  assert.deepEqual(spoken, ["too_slow"]);
  d.dispose();
});

test("dap1 dialect - a handshake sent again is ACKed again; a re-record asked at connect is not this upload's answer", async () => {
  const { d, types, spoken } = setup();
  d.binary(encodePacket(PacketType.HANDSHAKE, MAGIC));
  assert.deepEqual(d.binary(encodePacket(PacketType.HANDSHAKE, MAGIC)), { inputs: [] }, "not greeted yet: no ACK");
  d.send({ type: "connected", deviceId: "10.0.0.5", sessionId: "s" });
  d.send({ type: "rerecord", reason: "disconnected", attempt: 1 });
  assert.deepEqual(d.binary(encodePacket(PacketType.HANDSHAKE, MAGIC)), { inputs: [] });
  assert.deepEqual(types(), [PacketType.ACK, PacketType.ACK]);
  upload(d, toWav(Buffer.alloc(9000, 1)));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(spoken, [], "the upload waits for its own answer");
  d.dispose();
});
