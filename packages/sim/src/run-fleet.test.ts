import assert from "node:assert/strict";
import { test } from "node:test";
import { runFleet } from "./run-fleet";
import { startFirmwarePeer } from "./testing/firmware-peer";
import { tonePcm } from "./testing/tone";

test("fleet - runs N devices with K utterances each, ids suffixed -001…, and summarises latencies", async (t) => {
  const peer = await startFirmwarePeer();
  t.after(() => peer.close());
  const fleet = await runFleet({
    url: peer.url,
    dialect: "firmware",
    token: "secret-token",
    pcm: tonePcm(640),
    pacing: "fast",
    chunkPauseMs: 0,
    handshakeDelayMs: 0,
    devices: 3,
    utterances: 2,
    deviceIdPrefix: "pin",
    staggerMs: 5,
  });
  assert.equal(fleet.ok, 3);
  assert.equal(fleet.failed, 0);
  assert.deepEqual(
    fleet.devices.map((d) => d.deviceId),
    ["pin-001", "pin-002", "pin-003"],
  );
  assert.deepEqual([...peer.sessions].sort(), ["pin-001", "pin-002", "pin-003"]);
  assert.equal(peer.utterances.length, 6);
  assert.equal(fleet.firstAudioMs.count, 6);
  assert.ok(fleet.firstAudioMs.p50! <= fleet.firstAudioMs.p99!);
  assert.equal(fleet.ackLatencyMs.count, 6 * 2); // 5 chunks each: ACKs after chunks 2 and 4
});

test("fleet - a device that fails is counted as failed, the others complete", async (t) => {
  const peer = await startFirmwarePeer({ dropAfter: { connection: 2, chunks: 1 } });
  t.after(() => peer.close());
  const fleet = await runFleet({
    url: peer.url,
    dialect: "firmware",
    token: "secret-token",
    pcm: tonePcm(640),
    pacing: "fast",
    chunkPauseMs: 0,
    handshakeDelayMs: 0,
    devices: 3,
    deviceIdPrefix: "pin",
    staggerMs: 0,
  });
  assert.equal(fleet.ok, 2);
  assert.equal(fleet.failed, 1);
  assert.equal(fleet.devices.filter((d) => d.error?.kind === "connection").length, 1);
});
