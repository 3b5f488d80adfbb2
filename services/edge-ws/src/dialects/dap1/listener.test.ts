import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { after, before, test } from "node:test";
import { parseWav, toWav, wavHeader } from "@hotpin/audio";
import { Dap1Peer, encodePacket, MAGIC, PacketType } from "@hotpin/dap1";
import { freePort } from "@hotpin/mesh";
import { runDap1Device } from "@hotpin/sim";
import { startEdge, startPeers, tone } from "../../test-peers.test-util";

/**
 * DAP1 clients against an edge in front of test peers: whole exchanges over real TCP, the
 * framing faults a client can produce, and every failure answered with speech.
 */
const behaviour = { transcript: "go forward ten meters", llm: "ok" as "ok" | "unconfigured", ttsFails: false };
let peers: Awaited<ReturnType<typeof startPeers>>;
let edge: Awaited<ReturnType<typeof startEdge>>;
let port: number;

before(async () => {
  peers = await startPeers(behaviour);
  port = await freePort();
  edge = await startEdge(peers.address, {
    HOTPIN_EDGE_DAP1_PORT: String(port),
    HOTPIN_EDGE_DAP1_ALLOWED_NETWORKS: "127.0.0.0/8",
    HOTPIN_EDGE_DAP1_DEVICES: "127.0.0.9=kitchen",
    HOTPIN_EDGE_DAP1_MAX_EXCHANGES: "12",
  });
});
after(async () => {
  await edge?.stop();
  peers?.stop();
});

const speechWav = () => toWav(tone(32_000 * 2));
const device = (localAddress: string, wav = speechWav()) =>
  runDap1Device({ host: "127.0.0.1", port, wav, localAddress, firstReplyTimeoutMs: 10_000 });

function eventsOf(deviceId: string, type: string) {
  return edge.events.filter((e) => e.deviceId === deviceId && e.payload?.$case === type);
}

async function metric(name: "refused" | "protocolErrors", labels: Record<string, string>): Promise<number> {
  const m = await edge.metrics[name].get();
  return (
    m.values.find((v) => Object.entries(labels).every(([k, val]) => (v.labels as Record<string, unknown>)[k] === val))
      ?.value ?? 0
  );
}

/** Turns are stored after the reply went out: polled, within a bound. */
async function storedTurn(deviceId: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!peers.turns.some((t) => t.deviceId === deviceId && t.text === behaviour.transcript)) {
    if (Date.now() > deadline) throw new Error(`no turn stored for ${deviceId}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test("dap1 - a client uploads a WAV and gets the spoken answer; the turn is stored under its address", async () => {
  const { reply } = await device("127.0.0.2");
  const wav = parseWav(reply);
  assert.equal(wav.format.sampleRate, 16_000);
  assert.ok(wav.data.length > 0);
  await storedTurn("127.0.0.2");
  assert.equal(eventsOf("127.0.0.2", "ttsDone").length, 1);
  assert.equal(eventsOf("127.0.0.2", "connected")[0]?.payload?.$case, "connected");
});

test("dap1 - the device map names a client; its conversation continues on the next connection", async () => {
  await device("127.0.0.9");
  await storedTurn("kitchen");
  const before = peers.histories.length;
  await device("127.0.0.9");
  assert.ok(eventsOf("kitchen", "transcript").length >= 2);
  assert.ok((peers.histories[before]?.length ?? 0) >= 2, "the second exchange saw the first as history");
});

test("dap1 - a bad checksum is NACKed and the chunk taken again", async () => {
  const socket = await open("127.0.0.3");
  const raw = rawAnswers(socket);
  socket.write(encodePacket(PacketType.HANDSHAKE, MAGIC));
  assert.equal((await raw.next())[5], PacketType.ACK);
  const wav = speechWav();
  const chunk = wav.subarray(0, 8192);
  const bad = encodePacket(PacketType.DATA, chunk, 0);
  bad.writeUInt16BE(bad.readUInt16BE(6) ^ 0xffff, 6);
  socket.write(bad);
  assert.equal((await raw.next())[5], PacketType.NACK);
  socket.write(encodePacket(PacketType.DATA, chunk, 0));
  assert.equal((await raw.next())[5], PacketType.ACK);
  // The same chunk again (as if our ACK was lost) is ACKed and not kept twice; a skipped one is NACKed.
  socket.write(encodePacket(PacketType.DATA, chunk, 0));
  assert.equal((await raw.next())[5], PacketType.ACK);
  socket.write(encodePacket(PacketType.DATA, chunk, 5));
  assert.equal((await raw.next())[5], PacketType.NACK);
  socket.destroy();
});

test("dap1 - a client outside the allowed networks is closed before the handshake", async () => {
  const strict = await startEdge(peers.address, {
    HOTPIN_EDGE_DAP1_PORT: String(await freePort()),
    HOTPIN_EDGE_DAP1_ALLOWED_NETWORKS: "10.0.0.0/8",
  });
  try {
    const socket = connect({ host: "127.0.0.1", port: strict.dap1Port ?? 0 });
    const answered = await new Promise<boolean>((resolve) => {
      socket.once("data", () => resolve(true));
      socket.once("close", () => resolve(false));
      socket.write(encodePacket(PacketType.HANDSHAKE, MAGIC));
    });
    assert.equal(answered, false);
    const refused = await strict.metrics.refused.get();
    assert.equal(refused.values.find((v) => v.labels.reason === "dap1_not_allowed")?.value, 1);
  } finally {
    await strict.stop();
  }
});

test("dap1 - a wrong version or a bad handshake closes the connection, counted, nothing else affected", async () => {
  const before = await metric("protocolErrors", { code: "bad_packet" });
  const s1 = await open("127.0.0.4");
  const bad = encodePacket(PacketType.HANDSHAKE, MAGIC);
  bad[4] = 0x02;
  s1.write(bad);
  await closed(s1);
  assert.equal(await metric("protocolErrors", { code: "bad_packet" }), before + 1);
  const s2 = await open("127.0.0.4");
  s2.write(encodePacket(PacketType.DATA, Buffer.alloc(10), 0));
  await closed(s2);
  assert.ok((await metric("protocolErrors", { code: "bad_handshake" })) >= 1);
  const { reply } = await device("127.0.0.4");
  assert.ok(parseWav(reply).data.length > 0, "the next exchange of the same client is served");
});

test("dap1 - silence, a bad WAV and an unconfigured LLM are each answered with speech", async () => {
  const silence = await device("127.0.0.5", toWav(Buffer.alloc(32_000)));
  assert.ok(parseWav(silence.reply).data.length > 0);
  assert.ok(eventsOf("127.0.0.5", "rerecord").length >= 1);

  const notWav = Buffer.concat([Buffer.from("RIFX"), Buffer.alloc(9000)]);
  const bad = await device("127.0.0.6", notWav);
  assert.ok(parseWav(bad.reply).data.length > 0);
  const eightKhz = Buffer.concat([
    wavHeader(16_000, { sampleRate: 8_000, channels: 1, bitsPerSample: 16 }),
    tone(16_000),
  ]);
  assert.ok(parseWav((await device("127.0.0.6", eightKhz)).reply).data.length > 0);

  behaviour.llm = "unconfigured";
  try {
    const r = await device("127.0.0.7");
    assert.ok(parseWav(r.reply).data.length > 0);
    assert.ok(eventsOf("127.0.0.7", "error").length >= 1);
  } finally {
    behaviour.llm = "ok";
  }
});

test("dap1 - ten clients at once are all served", async () => {
  const results = await Promise.all(Array.from({ length: 10 }, (_, i) => device(`127.0.1.${i + 1}`)));
  for (const r of results) assert.ok(parseWav(r.reply).data.length > 0);
  for (let i = 1; i <= 10; i++) await storedTurn(`127.0.1.${i}`);
});

test("dap1 - beyond the exchange limit a client hears a spoken busy", async () => {
  const busy = await startEdge(peers.address, {
    HOTPIN_EDGE_DAP1_PORT: String(await freePort()),
    HOTPIN_EDGE_DAP1_ALLOWED_NETWORKS: "127.0.0.0/8",
    HOTPIN_EDGE_DAP1_MAX_EXCHANGES: "1",
  });
  const socket = connect({ host: "127.0.0.1", port: busy.dap1Port ?? 0, localAddress: "127.0.2.1" });
  try {
    // The first client holds the only exchange (handshake done, upload not finished).
    const holder = new Dap1Peer(socket);
    await holder.handshake({ attempts: 1, waitMs: 5_000 });
    const r = await runDap1Device({
      host: "127.0.0.1",
      port: busy.dap1Port ?? 0,
      wav: speechWav(),
      localAddress: "127.0.2.2",
    });
    assert.ok(parseWav(r.reply).data.length > 0);
    const refused = await busy.metrics.refused.get();
    assert.equal(refused.values.find((v) => v.labels.reason === "dap1_busy")?.value, 1);
  } finally {
    socket.destroy();
    await busy.stop();
  }
});

test("dap1 - no handshake, no audio after it, or an upload that stops: each closed and counted", async () => {
  const strict = await startEdge(peers.address, {
    HOTPIN_EDGE_DAP1_PORT: String(await freePort()),
    HOTPIN_EDGE_DAP1_ALLOWED_NETWORKS: "127.0.0.0/8",
    HOTPIN_EDGE_DAP1_HANDSHAKE_TIMEOUT_MS: "200",
    HOTPIN_EDGE_DAP1_IDLE_TIMEOUT_MS: "200",
    HOTPIN_EDGE_DAP1_TRANSFER_TIMEOUT_MS: "300",
  });
  const dial = (localAddress: string) =>
    new Promise<Socket>((resolve, reject) => {
      const s = connect({ host: "127.0.0.1", port: strict.dap1Port ?? 0, localAddress }, () => resolve(s));
      s.once("error", reject);
      s.resume(); // the ACKs are read and dropped, so the close is seen
    });
  const count = async (name: "refused" | "protocolErrors", label: string) =>
    (await strict.metrics[name].get()).values.find((v) => Object.values(v.labels).includes(label))?.value ?? 0;
  try {
    const silent = await dial("127.0.6.1");
    await closed(silent, 5_000, "silent");
    assert.equal(await count("refused", "no_handshake"), 1);

    const idle = await dial("127.0.6.2");
    idle.write(encodePacket(PacketType.HANDSHAKE, MAGIC));
    await closed(idle, 5_000, "idle");
    assert.equal(await count("protocolErrors", "idle_timeout"), 1);

    const stopped = await dial("127.0.6.3");
    stopped.write(encodePacket(PacketType.HANDSHAKE, MAGIC));
    await new Promise((r) => setTimeout(r, 50));
    stopped.write(encodePacket(PacketType.DATA, speechWav().subarray(0, 8192), 0));
    await closed(stopped, 5_000, "stopped");
    assert.equal(await count("protocolErrors", "transfer_timeout"), 1);
    const aborted = (await strict.metrics.utterances.get()).values.find((v) => v.labels.outcome === "aborted");
    assert.equal(aborted?.value, 1, "the cut recording is counted as aborted");
  } finally {
    await strict.stop();
  }
});

function open(localAddress: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: "127.0.0.1", port, localAddress }, () => resolve(s));
    s.once("error", reject);
  });
}

function closed(socket: Socket, timeoutMs = 5_000, what = "socket"): Promise<void> {
  return new Promise((resolve, reject) => {
    if (socket.destroyed) return resolve();
    const timer = setTimeout(() => reject(new Error(`${what} not closed`)), timeoutMs);
    socket.once("close", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** The server's answers as 8-byte packets (ACK, NACK: bare headers), each within a bounded wait. */
function rawAnswers(socket: Socket) {
  let buffered = Buffer.alloc(0);
  let wake: (() => void) | undefined;
  socket.on("data", (d: Buffer) => {
    buffered = Buffer.concat([buffered, d]);
    wake?.();
  });
  return {
    async next(timeoutMs = 5_000): Promise<Buffer> {
      const deadline = Date.now() + timeoutMs;
      while (buffered.length < 8) {
        if (Date.now() > deadline) throw new Error("no answer");
        await new Promise<void>((r) => {
          const t = setTimeout(r, deadline - Date.now());
          wake = () => {
            clearTimeout(t);
            r();
          };
        });
      }
      const p = buffered.subarray(0, 8);
      buffered = buffered.subarray(8);
      return p;
    },
  };
}
