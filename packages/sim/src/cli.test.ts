import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import { parseWav } from "@hotpin/audio";
import { SESAME_TOKEN, startSesamePeer } from "./testing/sesame-peer";
import { startSpecPeer } from "./testing/spec-peer";
import { tonePcm } from "./testing/tone";
import { startXiaozhiPeer } from "./testing/xiaozhi-peer";

const run = promisify(execFile);
const cli = join(__dirname, "cli.js");

async function sim(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [cli, ...args]);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

test("cli - plays a raw file as a spec device, prints the timeline and latency, saves the reply, exits 0", async (t) => {
  const peer = await startSpecPeer();
  const dir = await mkdtemp(join(tmpdir(), "hotpin-sim-"));
  t.after(async () => {
    await peer.close();
    await rm(dir, { recursive: true, force: true });
  });
  await writeFile(join(dir, "speech.raw"), tonePcm(1000));
  const out = join(dir, "reply.wav");
  const args = ["--url", peer.url, "--dialect", "spec", "--token", "spec-token", "--pacing", "fast", "--out", out];
  const r = await sim([...args, join(dir, "speech.raw")]);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.match(r.stdout, /-> \{"type":"hello"/);
  assert.match(r.stdout, /<- binary 4096 B/);
  assert.match(r.stdout, /first audio: [\d.]+ ms after end of speech/);
  assert.deepEqual(await readFile(out), peer.replyWav);

  const bad = await sim([...args.slice(0, 4), "--token", "wrong", join(dir, "speech.raw")]);
  assert.equal(bad.code, 1);
  assert.match(bad.stdout, /error \(auth\)/);
});

test("cli - usage errors exit 64 with the usage text", async () => {
  const r = await sim(["--devices", "zero", "x.raw"]);
  assert.equal(r.code, 64);
  assert.match(r.stderr, /Usage: hotpin-sim/);
});

test("cli - --sesame streams a call to a Sesame-style server, saves the 24 kHz reply, exits 0", async (t) => {
  const peer = await startSesamePeer();
  const dir = await mkdtemp(join(tmpdir(), "hotpin-sim-"));
  t.after(async () => {
    await peer.close();
    await rm(dir, { recursive: true, force: true });
  });
  const input = join(dir, "speech.raw");
  await writeFile(
    input,
    parseWav(await readFile("/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0880.wav"))
      .data,
  );
  const out = join(dir, "reply.wav");
  const r = await sim(["--sesame", "--url", peer.url, "--token", SESAME_TOKEN, "--out", out, "--quiet", input]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^sesame: ok; turn 1: first audio \d+ ms after the end of speech/);
  assert.equal(parseWav(await readFile(out)).format.sampleRate, 24_000);
  assert.deepEqual(peer.received, ["client_location_state", "call_connect", "ping", "call_disconnect"]);
});

test("cli - --xiaozhi: OTA, hello and a manual turn with Opus both ways against a xiaozhi server; the 24 kHz reply saved", async (t) => {
  const peer = await startXiaozhiPeer({ bound: ["02:00:00:00:00:07"] });
  const dir = await mkdtemp(join(tmpdir(), "hotpin-sim-"));
  t.after(async () => {
    await peer.close();
    await rm(dir, { recursive: true, force: true });
  });
  const input = join(dir, "speech.raw");
  await writeFile(input, await readFile("/usr/share/pocketsphinx/test/data/goforward.raw"));
  const out = join(dir, "reply.wav");
  const args = ["--xiaozhi", peer.otaUrl, "--xiaozhi-mode", "manual", "--device-id", "02:00:00:00:00:07"];
  const r = await sim([...args, "--pacing", "fast", "--out", out, "--quiet", input]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^xiaozhi: ok; turn 1: heard "what time is it", first audio \d+ ms/);
  const wav = parseWav(await readFile(out));
  assert.equal(wav.format.sampleRate, 24_000);
  assert.ok(wav.data.length > 24_000, "about a second of decoded reply");
  assert.deepEqual(peer.received, ["hello", "listen start", "listen stop"]);
});
