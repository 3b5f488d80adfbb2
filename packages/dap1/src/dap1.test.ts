import assert from "node:assert/strict";
import { once } from "node:events";
import { connect, createServer, type Server, type Socket } from "node:net";
import { test } from "node:test";
import { encodePacket, FramingError, fletcher16, MAGIC, type Packet, PacketParser, PacketType } from "./framing";
import { type Dap1Error, Dap1Peer } from "./peer";
import { ChunkReceiver } from "./transfer";

/** A connected pair of TCP sockets on loopback. */
async function socketPair(): Promise<{ client: Socket; server: Socket; close: () => void }> {
  const srv: Server = createServer();
  srv.listen(0, "127.0.0.1");
  await once(srv, "listening");
  const { port } = srv.address() as { port: number };
  const accepted = once(srv, "connection");
  const client = connect(port, "127.0.0.1");
  const [server] = (await accepted) as [Socket];
  await once(client, "connect").catch(() => {});
  return {
    client,
    server,
    close: () => {
      client.destroy();
      server.destroy();
      srv.close();
    },
  };
}

/** Reads the next `n` bytes a raw socket receives, within 5 s. */
function readBytes(socket: Socket, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let got = Buffer.alloc(0);
    const timer = setTimeout(() => reject(new Error(`only ${got.length} of ${n} bytes within 5 s`)), 5_000);
    const onData = (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      if (got.length >= n) {
        clearTimeout(timer);
        socket.off("data", onData);
        if (got.length > n) socket.unshift(got.subarray(n));
        resolve(got.subarray(0, n));
      }
    };
    socket.on("data", onData);
  });
}

const ACK = Buffer.from("0000000001040000", "hex");
const NACK = Buffer.from("0000000001050000", "hex");

test("dap1 - packets are byte for byte what the DAWN client sends and expects", () => {
  assert.equal(fletcher16(Buffer.alloc(0)), 0);
  // Modulo 255 as DAWN's client computes it (docs/protocols/dap1.md on the handshake's checksum).
  assert.equal(fletcher16(MAGIC), 0x36dd);
  assert.deepEqual(encodePacket(PacketType.HANDSHAKE, MAGIC), Buffer.from("00000004010136dda55ab22b", "hex"));
  assert.deepEqual(encodePacket(PacketType.ACK), ACK);
  // DATA: the sequence number sits between the header and the payload, outside len and checksum.
  const data = encodePacket(PacketType.DATA, Buffer.from([1, 2, 3]), 7);
  assert.deepEqual(data, Buffer.from([0, 0, 0, 3, 1, 2, 0x0a, 0x06, 0, 7, 1, 2, 3]));
});

test("dap1 - the parser cuts packets however TCP splits them, and refuses a stream that is not DAP1", () => {
  const bytes = Buffer.concat([
    encodePacket(PacketType.HANDSHAKE, MAGIC),
    encodePacket(PacketType.DATA, Buffer.alloc(5000, 9), 0),
    encodePacket(PacketType.DATA_END, Buffer.alloc(10, 1), 1),
  ]);
  const parser = new PacketParser();
  const packets = [];
  for (let i = 0; i < bytes.length; i += 7) packets.push(...parser.push(bytes.subarray(i, i + 7)));
  assert.deepEqual(
    packets.map((p) => [p.type, p.seq, p.payload.length, p.checksumOk]),
    [
      [PacketType.HANDSHAKE, undefined, 4, true],
      [PacketType.DATA, 0, 5000, true],
      [PacketType.DATA_END, 1, 10, true],
    ],
  );
  const bad = (hex: string) => {
    try {
      new PacketParser().push(Buffer.from(hex, "hex"));
      return "accepted";
    } catch (err) {
      return (err as FramingError).fault;
    }
  };
  assert.equal(bad("0000000002040000"), "bad-version");
  assert.equal(bad("0000000001090000"), "bad-type");
  assert.equal(bad("0001000001020000"), "oversize");
  const flood = new PacketParser({ maxPayloadBytes: 8192, maxBufferedBytes: 100 });
  assert.throws(() => flood.push(Buffer.alloc(101, 0)), FramingError);
  const corrupt = encodePacket(PacketType.DATA, Buffer.from("abc"), 0);
  corrupt.writeUInt8(corrupt.readUInt8(12) ^ 0xff, 12);
  assert.equal(new PacketParser().push(corrupt)[0]?.checksumOk, false);
});

test("dap1 - a handshake and a WAV each way between two peers", async () => {
  const pair = await socketPair();
  try {
    const client = new Dap1Peer(pair.client);
    const server = new Dap1Peer(pair.server);
    const upload = Buffer.from(Array.from({ length: 100_000 }, (_, i) => i % 251));
    const reply = Buffer.from(Array.from({ length: 30_001 }, (_, i) => (i * 7) % 256));
    const served = (async () => {
      await server.acceptHandshake(5_000);
      const got = await server.receive({ maxBytes: 1_000_000 });
      await server.send(reply);
      return got;
    })();
    await client.handshake();
    await client.send(upload);
    const answer = await client.receive({ maxBytes: 960_000 });
    assert.deepEqual(await served, upload);
    assert.deepEqual(answer, reply);
  } finally {
    pair.close();
  }
});

test("dap1 - a bad checksum or an unexpected sequence number is NACKed and the chunk is taken again; a repeat is ACKed once", async () => {
  const pair = await socketPair();
  try {
    const server = new Dap1Peer(pair.server);
    const received = server.receive({ maxBytes: 1_000 });
    const good = encodePacket(PacketType.DATA, Buffer.from("hello "), 0);
    const corrupt = Buffer.from(good);
    corrupt.writeUInt8(corrupt.readUInt8(11) ^ 0x01, 11);
    pair.client.write(corrupt);
    assert.deepEqual(await readBytes(pair.client, 8), NACK);
    pair.client.write(encodePacket(PacketType.DATA, Buffer.from("skip"), 5));
    assert.deepEqual(await readBytes(pair.client, 8), NACK);
    pair.client.write(good);
    assert.deepEqual(await readBytes(pair.client, 8), ACK);
    pair.client.write(good); // its ACK was lost, as far as the client knows
    assert.deepEqual(await readBytes(pair.client, 8), ACK);
    pair.client.write(encodePacket(PacketType.DATA_END, Buffer.from("world"), 1));
    assert.deepEqual(await readBytes(pair.client, 8), ACK);
    assert.equal((await received).toString(), "hello world");
  } finally {
    pair.close();
  }
});

test("dap1 - a sender tries a NACKed chunk again, and gives up after its attempts", async () => {
  const pair = await socketPair();
  try {
    const sender = new Dap1Peer(pair.server);
    const sent = sender.send(Buffer.from("abc"), { ackTimeoutMs: 2_000 });
    const first = await readBytes(pair.client, 13);
    pair.client.write(NACK);
    assert.deepEqual(await readBytes(pair.client, 13), first);
    pair.client.write(ACK);
    await sent;

    const stubborn = sender.send(Buffer.from("x"), { ackTimeoutMs: 2_000, attempts: 2 });
    await readBytes(pair.client, 11);
    pair.client.write(NACK);
    await readBytes(pair.client, 11);
    pair.client.write(NACK);
    await assert.rejects(stubborn, (err: Dap1Error) => err.fault === "too-many-retries");
  } finally {
    pair.close();
  }
});

test("dap1 - a wrong handshake, an oversize message, a peer that goes quiet or away each fail with their own fault", async () => {
  const faults: string[] = [];
  const run = async (clientDoes: (s: Socket) => void, serverDoes: (p: Dap1Peer) => Promise<unknown>) => {
    const pair = await socketPair();
    try {
      const peer = new Dap1Peer(pair.server);
      clientDoes(pair.client);
      await serverDoes(peer).then(
        () => faults.push("none"),
        (err: Dap1Error) => faults.push(err.fault),
      );
    } finally {
      pair.close();
    }
  };
  await run(
    (c) => c.write(encodePacket(PacketType.HANDSHAKE, Buffer.from([1, 2, 3, 4]))),
    (p) => p.acceptHandshake(2_000),
  );
  // The magic decides, not the checksum: the protocol's own example carries another one.
  await run(
    (c) => c.write(Buffer.from("000000040101d6dda55ab22b", "hex")),
    (p) => p.acceptHandshake(2_000),
  );
  await run(
    (c) => c.write(encodePacket(PacketType.DATA_END, Buffer.alloc(600), 0)),
    (p) => p.receive({ maxBytes: 500 }),
  );
  await run(
    (c) => c.write(encodePacket(PacketType.DATA, Buffer.alloc(10), 0)),
    (p) => p.receive({ maxBytes: 500, chunkTimeoutMs: 300 }),
  );
  await run(
    (c) => c.end(),
    (p) => p.receive({ maxBytes: 500 }),
  );
  await run(
    (c) => c.write(Buffer.from("GET / HTTP/1.1\r\n\r\n")),
    (p) => p.acceptHandshake(2_000),
  );
  assert.deepEqual(faults, ["bad-handshake", "none", "too-large", "timeout", "closed", "bad-version"]);
});

test("dap1 - the receiver ACKs in-order chunks, re-ACKs a repeat without keeping it, NACKs the rest", () => {
  const r = new ChunkReceiver();
  const packet = (seq: number, payload: Buffer, end = false): Packet => ({
    type: end ? PacketType.DATA_END : PacketType.DATA,
    seq,
    payload,
    checksumOk: true,
  });
  assert.deepEqual(r.accept(packet(0, Buffer.from("a"))), { answer: "ack", payload: Buffer.from("a"), end: false });
  assert.deepEqual(r.accept(packet(0, Buffer.from("a"))), { answer: "ack-again" });
  assert.deepEqual(r.accept({ ...packet(1, Buffer.from("b")), checksumOk: false }), { answer: "nack" });
  assert.deepEqual(r.accept(packet(3, Buffer.from("b"))), { answer: "nack" });
  assert.deepEqual(r.accept(packet(1, Buffer.from("b"), true)), {
    answer: "ack",
    payload: Buffer.from("b"),
    end: true,
  });
  assert.equal(r.nacks, 2);
});
