import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { storage } from "@hotpin/contracts";
import { runSesameDevice } from "@hotpin/sim";
import { issueToken } from "../../auth";
import { GOFORWARD } from "../../mesh-fixture.test-util";
import { SECRET, startEdge, startPeers } from "../../test-peers.test-util";

/**
 * The barge-in cancel path against contract peers (no engines): a Sesame-style client talks over
 * a long reply; the edge stops it, stores the turn as interrupted with the sentence begun, marks
 * ttsDone interrupted, and answers the new utterance. TTS is asked for the dialect's 24 kHz.
 */
const skip = existsSync(GOFORWARD) ? false : `${GOFORWARD} is missing (Debian package pocketsphinx-testdata)`;
let peers: Awaited<ReturnType<typeof startPeers>>;
let edge: Awaited<ReturnType<typeof startEdge>>;

before(async () => {
  if (skip) return;
  // Each sentence is 3 s of speech at 24 kHz: the reply is still playing when the user speaks.
  peers = await startPeers({
    transcript: "go forward ten meters",
    llm: "ok",
    ttsFails: false,
    ttsBytes: 24_000 * 2 * 3,
  });
  edge = await startEdge(peers.address);
});
after(async () => {
  await edge?.stop();
  peers?.stop();
});

test("sesame barge-in - the reply is cut, stored interrupted as its begun sentence, and the new turn answered", {
  skip,
}, async () => {
  const token = await issueToken(SECRET, "pi-barge", 3600);
  const result = await runSesameDevice({
    url: edge.http,
    token,
    pcm: readFileSync(GOFORWARD),
    utterances: 2,
    bargeInAfterMs: 900,
  });
  assert.equal(result.error, undefined, JSON.stringify(result.error));
  assert.ok(result.turns[0]?.bargedIn && result.turns[1]?.replyPcm.length);
  const done = edge.events.filter((e) => e.deviceId === "pi-barge" && e.payload.$case === "ttsDone");
  assert.deepEqual(
    done.map((e) => (e.payload.$case === "ttsDone" ? e.payload.value.interrupted : undefined)),
    [true, false],
  );
  const first = done[0]?.payload.$case === "ttsDone" ? done[0].payload.value : undefined;
  assert.ok(first && first.durationMs < 3_000, `the interrupted reply played ${first?.durationMs} ms of 6000`);
  const assistant = peers.turns.filter(
    (t) => t.deviceId === "pi-barge" && t.role === storage.TurnRole.TURN_ROLE_ASSISTANT,
  );
  assert.deepEqual(
    assistant.map((t) => [t.text, t.interrupted]),
    [
      ["Hello there.", true],
      ["Hello there. You said something.", false],
    ],
  );
  assert.ok(peers.ttsRates.length > 0 && peers.ttsRates.every((r) => r === 24_000), `TTS rates ${peers.ttsRates}`);
  const interruptions = (await edge.metrics.interruptions.get()).values;
  assert.deepEqual(
    interruptions.map((v) => [v.labels.by, v.value]),
    [["barge_in", 1]],
  );
});
