import assert from "node:assert/strict";
import { test } from "node:test";
import { runDevice } from "./run-device";
import { RESPONSE, startFirmwarePeer, TRANSCRIPT } from "./testing/firmware-peer";
import { tonePcm } from "./testing/tone";
import type { DeviceOptions } from "./types";

const speech = tonePcm(1280); // 40960 bytes: 10 chunks of 4096

function device(url: string, extra: Partial<DeviceOptions> = {}): DeviceOptions {
  return {
    url,
    dialect: "firmware",
    deviceId: "esp32-cam-hotpin-001",
    token: "secret-token",
    pcm: speech,
    pacing: "fast",
    chunkPauseMs: 0,
    handshakeDelayMs: 0,
    replyTimeoutMs: 2000,
    ...extra,
  };
}

test("firmware - full exchange: chunks under flow control, stages, reply WAV, zero-length frame, complete", async (t) => {
  // ACKs are held back so a device that did not block would get far ahead of them.
  const peer = await startFirmwarePeer({ ackDelayMs: 15 });
  t.after(() => peer.close());
  const r = await runDevice(device(peer.url));
  assert.equal(r.error, undefined);
  assert.equal(r.ok, true);
  const [u] = r.utterances;
  assert.equal(u?.outcome, "complete");
  assert.equal(u?.chunksSent, 10);
  assert.equal(u?.streamAborted, false);
  assert.equal(u?.transcript, TRANSCRIPT);
  assert.equal(u?.response, RESPONSE);
  assert.equal(u?.hasImage, false);
  assert.deepEqual(u?.replyWav, peer.replyWav);
  assert.ok(u?.firstAudioMs !== undefined && u.firstAudioMs >= 0);
  assert.deepEqual(peer.sessions, ["esp32-cam-hotpin-001"]);
  assert.equal(peer.utterances[0]?.chunks, 10);
  assert.equal(peer.utterances[0]?.bytes, speech.length);
  assert.ok(peer.utterances[0]!.maxInFlight <= 2, `in flight reached ${peer.utterances[0]!.maxInFlight}`);
  // The device blocked on ACKs 1-4; the held-back 5th may land after the reply.
  assert.ok(r.ackLatenciesMs.length >= 4);
  assert.ok(r.ackLatenciesMs.every((ms) => ms >= 0));
  assert.ok(r.timeline.some((e) => e.dir === "out" && e.text === '{"signal":"EOS"}'));
});

test("firmware - aborts the stream when no ACK comes within the timeout, and still sends EOS", async (t) => {
  const peer = await startFirmwarePeer({ ackEvery: 0 });
  t.after(() => peer.close());
  const r = await runDevice(device(peer.url, { ackTimeoutMs: 100 }));
  assert.equal(r.error, undefined);
  const [u] = r.utterances;
  assert.equal(u?.streamAborted, true);
  assert.equal(u?.chunksSent, 2);
  assert.equal(peer.utterances[0]?.chunks, 2, "EOS reached the server after the two chunks");
  assert.equal(u?.outcome, "complete");
});

test("firmware - a reply WAV whose header claims more data than is sent is a protocol error", async (t) => {
  const peer = await startFirmwarePeer({
    mangleWav: (wav) => {
      const w = Buffer.from(wav);
      w.writeUInt32LE(w.readUInt32LE(40) + 100, 40);
      w.writeUInt32LE(w.readUInt32LE(4) + 100, 4);
      return w;
    },
  });
  t.after(() => peer.close());
  const r = await runDevice(device(peer.url));
  assert.equal(r.ok, false);
  assert.equal(r.error?.kind, "protocol");
  assert.match(r.error!.message, /data_size\+44/);
});

test("firmware - reply audio beyond data_size+44 is a protocol error", async (t) => {
  const peer = await startFirmwarePeer({ mangleWav: (wav) => Buffer.concat([wav, Buffer.alloc(10)]) });
  t.after(() => peer.close());
  const r = await runDevice(device(peer.url));
  assert.equal(r.error?.kind, "protocol");
  assert.match(r.error!.message, /10 bytes beyond data_size\+44/);
});

test("firmware - a rejected token (401) stops the device without retrying", async (t) => {
  const peer = await startFirmwarePeer();
  t.after(() => peer.close());
  const r = await runDevice(device(peer.url, { token: "wrong", retries: 3, backoff: { baseMs: 1 } }));
  assert.equal(r.error?.kind, "auth");
  assert.match(r.error!.message, /401/);
  assert.equal(r.connections, 1);
  assert.equal(peer.upgrades, 1);
});

test("firmware - reconnects with backoff after a drop mid-stream and completes the exchange", async (t) => {
  const peer = await startFirmwarePeer({ dropAfter: { connection: 1, chunks: 3 } });
  t.after(() => peer.close());
  const r = await runDevice(device(peer.url, { retries: 2, backoff: { baseMs: 5, jitter: 0 } }));
  assert.equal(r.error, undefined);
  assert.equal(r.ok, true);
  assert.equal(r.connections, 2);
  assert.deepEqual(peer.sessions, ["esp32-cam-hotpin-001", "esp32-cam-hotpin-001"]);
  assert.ok(r.timeline.some((e) => /reconnect 1\/2 in 5 ms/.test(e.text)));
});

test("firmware - a drop with no retries left fails as a connection error", async (t) => {
  const peer = await startFirmwarePeer({ dropAfter: { connection: 1, chunks: 3 } });
  t.after(() => peer.close());
  const r = await runDevice(device(peer.url));
  assert.equal(r.error?.kind, "connection");
  assert.equal(r.connections, 1);
});

test("firmware - 'could not understand' ends the utterance as a server error", async (t) => {
  const peer = await startFirmwarePeer({ notUnderstood: true });
  t.after(() => peer.close());
  const r = await runDevice(device(peer.url));
  assert.equal(r.error, undefined);
  assert.equal(r.ok, false);
  assert.equal(r.utterances[0]?.outcome, "server_error");
  assert.match(r.utterances[0]!.serverError!.message, /Could not understand/);
});

test("firmware - a server that never answers EOS times out", async (t) => {
  const peer = await startFirmwarePeer({ silentAfterEos: true });
  t.after(() => peer.close());
  const r = await runDevice(device(peer.url, { replyTimeoutMs: 150 }));
  assert.equal(r.error?.kind, "timeout");
});

test("firmware - uploads the image as multipart (session field, file part) and speaks twice on one connection", async (t) => {
  const peer = await startFirmwarePeer();
  t.after(() => peer.close());
  const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 0xff, 0xd9]);
  const r = await runDevice(device(peer.url, { image: jpeg, utterances: 2 }));
  assert.equal(r.error, undefined);
  assert.equal(r.ok, true);
  assert.equal(r.connections, 1);
  assert.equal(r.utterances.length, 2);
  assert.equal(r.utterances[0]?.hasImage, true);
  assert.deepEqual(peer.images[0], {
    session: "esp32-cam-hotpin-001",
    filename: "image.jpg",
    type: "image/jpeg",
    bytes: jpeg.length,
    auth: "Bearer secret-token",
  });
  assert.equal(peer.images.length, 2);
});
