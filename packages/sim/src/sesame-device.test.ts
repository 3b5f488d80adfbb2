import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { parseWav } from "@hotpin/audio";
import { runSesameDevice, type SesameDeviceOptions } from "./sesame-device";
import { SESAME_REPLY, SESAME_TOKEN, startSesamePeer } from "./testing/sesame-peer";

const SPEECH = parseWav(
  readFileSync("/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0880.wav"),
).data;

function device(url: string, extra: Partial<SesameDeviceOptions> = {}): SesameDeviceOptions {
  return { url, token: SESAME_TOKEN, pcm: SPEECH, replyTimeoutMs: 5000, replyQuietMs: 500, gapMs: 300, ...extra };
}

test("sesame sim - handshake, two turns ended by the server's VAD on a continuous stream, call_disconnect echoed", async (t) => {
  const peer = await startSesamePeer();
  t.after(() => peer.close());
  const r = await runSesameDevice(device(peer.url, { utterances: 2 }));
  assert.equal(r.error, undefined, JSON.stringify(r.error));
  assert.equal(r.ok, true);
  assert.equal(r.sessionId, "sess-1");
  assert.equal(r.callId, "call-1");
  assert.equal(r.sampleRate, 24_000);
  assert.equal(r.disconnectAcked, true);
  assert.deepEqual(peer.faults, []);
  assert.deepEqual(peer.received, ["client_location_state", "call_connect", "ping", "call_disconnect"]);
  // The microphone never paused: ~37.7 messages per second of the call.
  assert.ok(peer.audioMessages > 150, `${peer.audioMessages} audio messages`);
  assert.equal(r.turns.length, 2);
  for (const turn of r.turns) {
    // The server waited out its 600 ms silence window before answering.
    assert.ok(
      turn.firstAudioMs !== undefined && turn.firstAudioMs >= 400 && turn.firstAudioMs < 3000,
      `first audio ${turn.firstAudioMs}`,
    );
    assert.equal(turn.replyPcm.length, 24_000 * 2);
    assert.ok(turn.maxLeadMs < 150, `reply ran ${turn.maxLeadMs} ms ahead of real time`);
    assert.equal(turn.bargedIn, false);
  }
  assert.deepEqual(r.chats, [
    { messages: [{ role: "assistant", text: SESAME_REPLY }] },
    { messages: [{ role: "assistant", text: SESAME_REPLY }] },
  ]);
  assert.deepEqual(r.unknownTypes, []);
  assert.deepEqual(r.warnings, []);
});

test("sesame sim - talking over a reply stops its audio within 300 ms", async (t) => {
  const peer = await startSesamePeer({ replyMs: 5000 });
  t.after(() => peer.close());
  // From the first word on (0880 opens with 280 ms of breath), so the user's speech starts when the sim's does.
  const r = await runSesameDevice(
    device(peer.url, { pcm: SPEECH.subarray(280 * 32), utterances: 2, bargeInAfterMs: 1000, replyQuietMs: 300 }),
  );
  assert.equal(r.error, undefined, JSON.stringify(r.error));
  const [first, second] = r.turns;
  assert.equal(first?.bargedIn, true);
  assert.equal(peer.bargeIns, 1);
  const stopMs = first?.audioAfterBargeInMs ?? 0;
  assert.ok(stopMs <= 300, `reply audio went on ${stopMs} ms into the user's speech`);
  // The interrupting utterance got its own whole reply.
  assert.equal(second?.replyPcm.length, 5 * 24_000 * 2);
  assert.equal(peer.turns, 2);
});

test("sesame sim - a bad token is refused before the upgrade and the client gives up", async (t) => {
  const peer = await startSesamePeer();
  t.after(() => peer.close());
  const r = await runSesameDevice(device(peer.url, { token: "not.a.match" }));
  assert.equal(r.ok, false);
  assert.equal(r.error?.kind, "auth");
  assert.equal(r.turns.length, 0);
});
