import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import { toWav } from "@hotpin/audio";
import { Dap1Peer } from "@hotpin/dap1";
import { runDap1Device } from "./dap1-device";

/** A DAP1 server on loopback that answers every upload with `answer(upload)`. */
async function serve(answer: (upload: Buffer) => Buffer) {
  const uploads: Buffer[] = [];
  const server = createServer((socket: Socket) => {
    const peer = new Dap1Peer(socket);
    void (async () => {
      await peer.acceptHandshake(5_000);
      const upload = await peer.receive({ maxBytes: 2_000_000 });
      uploads.push(upload);
      await peer.send(answer(upload));
      socket.end();
    })().catch(() => socket.destroy());
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { port: (server.address() as { port: number }).port, uploads, close: () => server.close() };
}

test("sim - a DAP1 device sends its WAV and takes a valid reply WAV", async () => {
  const wav = toWav(Buffer.alloc(32_000 * 3, 1));
  const reply = toWav(Buffer.alloc(20_000, 2));
  const server = await serve(() => reply);
  try {
    const result = await runDap1Device({ host: "127.0.0.1", port: server.port, wav });
    assert.deepEqual(server.uploads, [wav]);
    assert.deepEqual(result.reply, reply);
  } finally {
    server.close();
  }
});

test("sim - a DAP1 device refuses a reply WAV with a wrong size or over the client's limit", async () => {
  const wav = toWav(Buffer.alloc(3_200, 1));
  const lying = toWav(Buffer.alloc(4_000, 2));
  lying.writeUInt32LE(9_998, 40);
  for (const [answer, problem] of [
    [lying, /true sizes/],
    [toWav(Buffer.alloc(1_000_000, 2)), /too-large|over 960000/],
  ] as const) {
    const server = await serve(() => answer);
    try {
      await assert.rejects(runDap1Device({ host: "127.0.0.1", port: server.port, wav }), problem);
    } finally {
      server.close();
    }
  }
});

test("cli - --dap1 HOST:PORT plays the speech as a DAWN client, saves the reply, exits 0", async () => {
  const reply = toWav(Buffer.alloc(20_000, 2));
  const server = await serve(() => reply);
  const dir = await mkdtemp(join(tmpdir(), "hotpin-sim-dap1-"));
  try {
    const input = join(dir, "speech.raw");
    await writeFile(input, Buffer.alloc(32_000, 1));
    const out = join(dir, "reply.wav");
    const { stdout } = await promisify(execFile)(process.execPath, [
      join(__dirname, "cli.js"),
      "--dap1",
      `127.0.0.1:${server.port}`,
      "--out",
      out,
      input,
    ]);
    assert.match(stdout, /dap1: reply 20044 B, first packet \d+ ms/);
    assert.deepEqual(await readFile(out), reply);
    assert.deepEqual(server.uploads, [toWav(Buffer.alloc(32_000, 1))]);
  } finally {
    server.close();
    await rm(dir, { recursive: true, force: true });
  }
});
