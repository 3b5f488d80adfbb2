import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { parseWav } from "@hotpin/audio";
import { startXiaozhiPeer, XIAOZHI_SENTENCE, XIAOZHI_TRANSCRIPT } from "./testing/xiaozhi-peer";
import { runXiaozhiDevice, type XiaozhiDeviceOptions } from "./xiaozhi-device";

const SPEECH = parseWav(
  readFileSync("/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0880.wav"),
).data;
const MAC = "a1:b2:c3:d4:e5:f6";

function device(otaUrl: string, extra: Partial<XiaozhiDeviceOptions> = {}): XiaozhiDeviceOptions {
  return {
    otaUrl,
    deviceId: MAC,
    pcm: SPEECH,
    turns: [{ mode: "manual" }],
    pacing: "fast",
    activationPollMs: 50,
    replyTimeoutMs: 5000,
    ...extra,
  };
}

test("xiaozhi sim - OTA, activation code, bind, token, hello, then a manual and an auto turn with Opus both ways", async (t) => {
  const peer = await startXiaozhiPeer();
  t.after(() => peer.close());
  const shown: string[] = [];
  const r = await runXiaozhiDevice(
    device(peer.otaUrl, {
      turns: [{ mode: "manual" }, { mode: "auto" }],
      wakeWord: "hey mesh",
      // In real time, so the auto turn's end is timed as a device lives it.
      pacing: "realtime",
      onActivationCode: (code) => {
        shown.push(code);
        // The operator binds the device while it polls /activate.
        setTimeout(() => peer.bind(code), 150);
      },
    }),
  );
  assert.equal(r.error, undefined, JSON.stringify(r.error));
  assert.equal(r.ok, true);
  assert.match(r.activationCode ?? "", /^\d{6}$/);
  assert.deepEqual(shown, [r.activationCode]);
  assert.deepEqual(r.downlink, { sampleRate: 24_000, frameDurationMs: 60 });
  assert.equal(r.sessionId, "sess-1");
  assert.deepEqual(peer.faults, []);
  assert.deepEqual(peer.received, ["hello", "listen detect", "listen start", "listen stop", "listen start"]);
  for (const turn of r.turns) {
    assert.equal(turn.transcript, XIAOZHI_TRANSCRIPT);
    assert.deepEqual(turn.sentences, [XIAOZHI_SENTENCE]);
    assert.equal(turn.emotion, "happy");
    // 1 s of reply: 16 packets of 60 ms, every one decoded to 1440 samples at 24 kHz.
    assert.equal(turn.packets, 16);
    assert.equal(turn.replyPcm.length, 16 * 1440 * 2);
    assert.equal(turn.maxPacketSamples, 1440);
    assert.equal(turn.droppedOverflow, 0);
    assert.equal(turn.droppedOutsideSpeaking, 0);
    assert.ok(turn.firstAudioMs !== undefined);
  }
  // The peer heard the whole utterance each time (the device's 16 kHz frames, DTX ones included).
  assert.ok(peer.utterances[0]! >= SPEECH.length / 2, `${peer.utterances[0]} samples`);
  // Auto: the server's VAD ended the turn after its 600 ms silence window, not the device.
  const auto = r.turns[1]!;
  assert.ok(auto.sttMs !== undefined && auto.sttMs >= 400 && auto.sttMs < 3000, `auto stt after ${auto.sttMs} ms`);
  assert.deepEqual(r.warnings, []);
});

test("xiaozhi sim - abort while the reply plays gets tts stop at once and the rest of the reply is not played", async (t) => {
  const peer = await startXiaozhiPeer({ bound: [MAC], replyMs: 3000 });
  t.after(() => peer.close());
  const r = await runXiaozhiDevice(
    device(peer.otaUrl, { turns: [{ mode: "manual", abortAfterMs: 200 }, { mode: "manual" }] }),
  );
  assert.equal(r.error, undefined, JSON.stringify(r.error));
  const [aborted, next] = r.turns;
  assert.ok(
    aborted!.abortToStopMs !== undefined && aborted!.abortToStopMs < 200,
    `abort → stop ${aborted!.abortToStopMs} ms`,
  );
  assert.ok(aborted!.packets < 50, `${aborted!.packets} packets of a 50-packet reply`);
  assert.equal(next!.packets, 50);
  assert.equal(r.activationCode, undefined);
  assert.ok(peer.received.includes("abort"));
});

test("xiaozhi sim - binary protocol v3 when the OTA reply hands it out", async (t) => {
  const peer = await startXiaozhiPeer({ bound: [MAC], version: 3 });
  t.after(() => peer.close());
  const r = await runXiaozhiDevice(device(peer.otaUrl));
  assert.equal(r.error, undefined, JSON.stringify(r.error));
  assert.equal(r.turns[0]?.packets, 16);
  assert.deepEqual(peer.faults, []);
});

test("xiaozhi sim - what would break a real device is an error: mqtt in the OTA reply, a hello without transport", async (t) => {
  const mqtt = await startXiaozhiPeer({ bound: [MAC], sendMqtt: true });
  t.after(() => mqtt.close());
  const a = await runXiaozhiDevice(device(mqtt.otaUrl));
  assert.equal(a.ok, false);
  assert.match(a.error?.message ?? "", /mqtt section/);
  const noTransport = await startXiaozhiPeer({ bound: [MAC], helloWithoutTransport: true });
  t.after(() => noTransport.close());
  const b = await runXiaozhiDevice(device(noTransport.otaUrl));
  assert.match(b.error?.message ?? "", /without a string transport/);
});

test("xiaozhi sim - an unbound device gives up after the activation timeout", async (t) => {
  const peer = await startXiaozhiPeer();
  t.after(() => peer.close());
  const r = await runXiaozhiDevice(device(peer.otaUrl, { activationTimeoutMs: 300 }));
  assert.equal(r.error?.kind, "timeout");
  assert.match(r.activationCode ?? "", /^\d{6}$/);
});
