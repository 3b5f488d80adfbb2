import assert from "node:assert/strict";
import { test } from "node:test";
import { runDevice } from "./run-device";
import { SPEC_RESPONSE, SPEC_TRANSCRIPT, startSpecPeer } from "./testing/spec-peer";
import { tonePcm } from "./testing/tone";
import type { DeviceOptions } from "./types";

const speech = tonePcm(2000); // 64000 bytes: 4 chunks of 16000

function device(url: string, extra: Partial<DeviceOptions> = {}): DeviceOptions {
  return {
    url,
    dialect: "spec",
    deviceId: "spec-dev-1",
    token: "spec-token",
    pcm: speech,
    pacing: "fast",
    chunkPauseMs: 0,
    replyTimeoutMs: 2000,
    ...extra,
  };
}

test("spec - full exchange: hello, metas and chunks, partial, transcript, llm, pull playback, tts_done", async (t) => {
  const peer = await startSpecPeer();
  t.after(() => peer.close());
  const r = await runDevice(device(peer.url, { capabilities: { max_reply_bytes: 1 } }));
  assert.equal(r.error, undefined);
  assert.equal(r.ok, true);
  const [u] = r.utterances;
  assert.equal(u?.outcome, "complete");
  assert.deepEqual(u?.partials, ["what time"]);
  assert.equal(u?.transcript, SPEC_TRANSCRIPT);
  assert.equal(u?.response, SPEC_RESPONSE);
  assert.equal(u?.announcedDurationMs, 700);
  assert.deepEqual(u?.replyWav, peer.replyWav);
  assert.deepEqual(u?.warnings, []);
  assert.ok(u?.firstAudioMs !== undefined);
  assert.deepEqual(peer.hellos[0], {
    type: "hello",
    session: "spec-dev-1",
    device: "hotpin-sim",
    capabilities: { psram: false, max_chunk_bytes: 16000, max_reply_bytes: 1 },
  });
  assert.deepEqual(peer.recordings, [{ chunks: 4, bytes: speech.length, maxInFlight: 2, faults: [] }]);
  assert.deepEqual(
    peer.received.filter((m) => m !== "audio_chunk_meta"),
    ["hello", "recording_started", "recording_stopped", "ready_for_playback", "playback_complete"],
  );
  assert.equal(r.ackLatenciesMs.length, 2);
});

test("spec - a segmented reply (tts_segments): one tts_ready per segment, one ready_for_playback, joined WAV", async (t) => {
  const peer = await startSpecPeer();
  t.after(() => peer.close());
  const r = await runDevice(device(peer.url, { capabilities: { tts_segments: true } }));
  assert.equal(r.error, undefined);
  const [u] = r.utterances;
  assert.equal(u?.outcome, "complete");
  assert.equal(u?.ttsSegments, 2);
  assert.deepEqual(u?.replyWav, peer.replyWav);
  assert.deepEqual(u?.warnings, []);
  assert.equal(peer.received.filter((m) => m === "ready_for_playback").length, 1);
});

test("spec - without ready_for_playback the device gets offer_download and fetches the WAV with its token", async (t) => {
  const peer = await startSpecPeer({ playbackWaitMs: 20 });
  t.after(() => peer.close());
  const r = await runDevice(device(peer.url, { readyForPlayback: false }));
  assert.equal(r.error, undefined);
  const [u] = r.utterances;
  assert.equal(u?.outcome, "complete");
  assert.equal(u?.downloadUrl, "/download/tok123");
  assert.deepEqual(u?.replyWav, peer.replyWav);
  assert.equal(peer.downloads, 1);
  assert.ok(!peer.received.includes("ready_for_playback"));
});

test("spec - an offer the device does not fetch ends the utterance as offered", async (t) => {
  const peer = await startSpecPeer({ playbackWaitMs: 20 });
  t.after(() => peer.close());
  const r = await runDevice(device(peer.url, { readyForPlayback: false, fetchDownload: false }));
  assert.equal(r.utterances[0]?.outcome, "offered");
  assert.equal(r.ok, false);
  assert.equal(peer.downloads, 0);
});

test("spec - re-records when asked, then stops at request_user_intervention", async (t) => {
  const peer = await startSpecPeer({ takes: ["rerecord", "rerecord", "intervention"] });
  t.after(() => peer.close());
  const r = await runDevice(device(peer.url));
  assert.equal(r.error, undefined);
  const [u] = r.utterances;
  assert.equal(u?.outcome, "intervention");
  assert.deepEqual(u?.rerecords, ["Empty transcript", "Empty transcript"]);
  assert.equal(peer.recordings.length, 3);
  assert.ok(peer.recordings.every((rec) => rec.chunks === 4 && rec.faults.length === 0));
});

test("spec - waits for ready, uploads the image raw with ?session=, pings and accepts the pong", async (t) => {
  const peer = await startSpecPeer();
  t.after(() => peer.close());
  const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xd9]);
  const r = await runDevice(device(peer.url, { image: jpeg, waitForReady: true, pingIntervalMs: 60_000 }));
  assert.equal(r.error, undefined);
  assert.equal(r.ok, true);
  assert.equal(peer.received[0], "hello");
  assert.equal(peer.received.filter((m) => m === "ping").length, 1);
  assert.ok(r.timeline.some((e) => e.dir === "in" && e.text === '{"type":"pong"}'));
  assert.deepEqual(peer.images, [{ session: "spec-dev-1", type: "image/jpeg", bytes: 4 }]);
});

test("spec - a rejected token stops retries", async (t) => {
  const peer = await startSpecPeer();
  t.after(() => peer.close());
  const r = await runDevice(device(peer.url, { token: "nope", retries: 2, backoff: { baseMs: 1 } }));
  assert.equal(r.error?.kind, "auth");
  assert.equal(peer.upgrades, 1);
});
