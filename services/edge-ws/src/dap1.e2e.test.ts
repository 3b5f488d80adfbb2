import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { connect } from "node:net";
import { after, before, test } from "node:test";
import { parseWav, toWav } from "@hotpin/audio";
import { Dap1Peer, encodePacket, MAGIC, PacketType } from "@hotpin/dap1";
import { freePort } from "@hotpin/mesh";
import { runDap1Device } from "@hotpin/sim";
import { type FakeGroq, startFakeGroq, startMesh, type TestMesh } from "@hotpin/test-support";
import { meshSkip } from "./mesh-fixture.test-util";

/**
 * DAWN DAP1 clients through the whole mesh (PocketSphinx, fake Groq, espeak-ng, storage, NATS),
 * each from its own loopback address, as ESP32 devices on a LAN.
 */
const LIBRIVOX = "/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0880.wav";
const ANSWER = "He was not, in fact. Shall I read on?";
const skip = meshSkip("DAP1 mesh tests");

let groq: FakeGroq | undefined;
let mesh: TestMesh | undefined;
let port = 0;

before(async () => {
  if (skip) return;
  port = await freePort();
  groq = await startFakeGroq({ defaultAnswer: ANSWER });
  mesh = await startMesh({
    env: { GROQ_API_KEY: "test-key", GROQ_BASE_URL: groq.url },
    serviceEnv: {
      edge: {
        HOTPIN_EDGE_DAP1_PORT: String(port),
        HOTPIN_EDGE_DAP1_ALLOWED_NETWORKS: "127.0.0.0/8",
        // Ten PocketSphinx streams at once on a shared 2-core machine can take longer than 15 s.
        HOTPIN_EDGE_STT_TIMEOUT_MS: "20000",
      },
    },
  });
});
after(async () => {
  await mesh?.[Symbol.asyncDispose]();
  await groq?.[Symbol.asyncDispose]();
});

const device = (localAddress: string, wav: Buffer) =>
  runDap1Device({ host: "127.0.0.1", port, wav, localAddress, firstReplyTimeoutMs: 30_000 });

/** The user text of every chat the LLM was asked (the last user message of each request). */
function userTexts(): string[] {
  return (groq?.chatRequests() ?? []).map((r) => {
    const messages = (r.body as { messages: { role: string; content: unknown }[] }).messages;
    const last = messages.filter((m) => m.role === "user").at(-1)?.content;
    return typeof last === "string" ? last : JSON.stringify(last);
  });
}

test("dap1 mesh - a LibriVox WAV over DAP1: its transcript reaches the LLM, the answer comes back as a valid WAV", {
  skip,
}, async () => {
  const { reply, firstPacketMs } = await device("127.0.3.1", readFileSync(LIBRIVOX));
  const wav = parseWav(reply);
  assert.deepEqual(wav.format, { sampleRate: 16_000, channels: 1, bitsPerSample: 16 });
  assert.equal(reply.readUInt32LE(40), reply.length - 44);
  assert.ok(wav.data.length > 16_000, "a spoken answer, not a beep");
  assert.ok(firstPacketMs < 30_000);
  assert.ok(
    userTexts().some((t) => /disposed|young|man/.test(t)),
    `the LLM heard the recording: ${userTexts().join(" | ")}`,
  );
});

test("dap1 mesh - a chunk with a bad checksum is NACKed, sent again and the exchange completes", { skip }, async () => {
  const socket = connect({ host: "127.0.0.1", port, localAddress: "127.0.3.2" });
  try {
    const answers: Buffer[] = [];
    const raw = (d: Buffer) => answers.push(d);
    socket.on("data", raw);
    const answer = async () => {
      for (let i = 0; i < 250 && answers.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
      const a = answers.shift();
      if (!a) throw new Error("no answer within 5 s");
      return a[5];
    };
    socket.write(encodePacket(PacketType.HANDSHAKE, MAGIC));
    assert.equal(await answer(), PacketType.ACK);
    const wav = readFileSync(LIBRIVOX);
    const bad = encodePacket(PacketType.DATA, wav.subarray(0, 8192), 0);
    bad[20] = (bad[20] ?? 0) ^ 0x55; // a payload byte flipped on the way
    socket.write(bad);
    assert.equal(await answer(), PacketType.NACK);
    socket.off("data", raw);
    const peer = new Dap1Peer(socket);
    await peer.send(wav, { ackTimeoutMs: 2_000, attempts: 5 });
    const reply = await peer.receive({ maxBytes: 960_000, firstChunkTimeoutMs: 30_000, chunkTimeoutMs: 5_000 });
    assert.ok(parseWav(reply).data.length > 16_000);
  } finally {
    socket.destroy();
  }
});

test("dap1 mesh - ten DAP1 clients at once are all answered", { skip }, async () => {
  const wav = readFileSync(LIBRIVOX);
  const chats = userTexts().length;
  const results = await Promise.all(Array.from({ length: 10 }, (_, i) => device(`127.0.4.${i + 1}`, wav)));
  // Each hears speech: the answer, or a spoken apology when a stage ran out of time under load.
  for (const r of results) assert.ok(parseWav(r.reply).data.length > 16_000, "speech, not a beep");
  console.log(
    `# first reply packet, ms: ${results.map((r) => r.firstPacketMs).join(" ")}; reached the LLM: ${userTexts().length - chats}/10`,
  );
});

test("dap1 mesh - silence is answered with speech and never reaches the LLM", { skip }, async () => {
  const chats = userTexts().length;
  const { reply } = await device("127.0.3.3", toWav(Buffer.alloc(32_000 * 2)));
  assert.ok(parseWav(reply).data.length > 16_000, "a spoken prompt");
  assert.equal(userTexts().length, chats);
});
