import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { runDevice, runSesameDevice } from "@hotpin/sim";
import { issueToken } from "../auth";
import { GOFORWARD } from "../mesh-fixture.test-util";
import { SECRET, STATIC_TOKEN, startEdge, startPeers } from "../test-peers.test-util";

/**
 * HOTPIN_EDGE_MIN_CONFIDENCE asks a push-to-talk device to record again; a device whose turns the
 * server takes has no re-record to ask for, so the same low-confidence transcript is answered.
 */
const skip = existsSync(GOFORWARD) ? false : `${GOFORWARD} is missing (Debian package pocketsphinx-testdata)`;
let peers: Awaited<ReturnType<typeof startPeers>>;
let edge: Awaited<ReturnType<typeof startEdge>>;

before(async () => {
  if (skip) return;
  peers = await startPeers({ transcript: "go forward ten meters", llm: "ok", ttsFails: false, confidence: 0.3 });
  edge = await startEdge(peers.address, { HOTPIN_EDGE_MIN_CONFIDENCE: "0.5" });
});
after(async () => {
  await edge?.stop();
  peers?.stop();
});

test("confidence - below the minimum: the firmware device is asked to record again, the always-listening one answered", {
  skip,
}, async () => {
  const pcm = readFileSync(GOFORWARD);
  const pushToTalk = await runDevice({
    url: edge.http,
    dialect: "firmware",
    deviceId: "pin-low-confidence",
    token: STATIC_TOKEN,
    pcm,
    pacing: "fast",
    handshakeDelayMs: 0,
    chunkPauseMs: 0,
  });
  // The firmware is told, in speech, to say it again (the session's re-record for it).
  assert.match(JSON.stringify(pushToTalk), /could not make out what you said/);
  assert.equal(peers.histories.length, 0, "nothing reached the LLM for the push-to-talk device");
  const token = await issueToken(SECRET, "pi-low-confidence", 3600);
  const listening = await runSesameDevice({ url: edge.http, token, pcm, utterances: 1 });
  assert.equal(listening.error, undefined, JSON.stringify(listening.error));
  assert.ok((listening.turns[0]?.replyPcm.length ?? 0) > 0, "the Sesame-style device heard an answer");
  assert.equal(peers.histories.length, 1, "its transcript reached the LLM");
});
