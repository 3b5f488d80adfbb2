import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import type { stt as sttApi } from "@hotpin/contracts";
import { stt } from "@hotpin/contracts";
import { createGrpcClient, grpc } from "@hotpin/runtime";
import { spokenPcm16k, startMesh, type TestMesh } from "@hotpin/test-support";
import type { EventPayload, EventSink } from "../events";
import { GOFORWARD, meshSkip } from "../mesh-fixture.test-util";
import { grpcCode } from "./stage-error";
import { MAX_WAKE_WORD_BYTES, WakeSpotter, type WakeSpotterOptions, wakeWordEvent } from "./wake-spotter";

/**
 * WakeSpotter against the real STT service (its own process, PocketSphinx keyphrase search):
 * one worker with one spotting slot, so refusals are real, and a 10 s stream limit, so the
 * service's OUT_OF_RANGE end is real too.
 */
const skip = meshSkip("wake spotter tests");
let mesh: TestMesh | undefined;
let client: sttApi.SpeechToTextClient;

before(async () => {
  if (skip) return;
  mesh = await startMesh({
    only: ["stt"],
    env: {
      HOTPIN_STT_WORKERS: "1",
      HOTPIN_STT_WARM_RECOGNIZERS: "0",
      HOTPIN_STT_WAKE_STREAMS_PER_WORKER: "1",
      HOTPIN_STT_WAKE_MAX_STREAM_MS: "10000",
    },
  });
  client = createGrpcClient(stt.SpeechToTextClient, mesh.address("stt"));
});
after(async () => {
  client?.close();
  await mesh?.[Symbol.asyncDispose]();
});

/** Near-silence with a little noise, as a real microphone gives (digital zeros are not realistic). */
function quiet(ms: number): Buffer {
  const pcm = Buffer.alloc(Math.round(ms * 32));
  for (let i = 0; i < pcm.length / 2; i++) pcm.writeInt16LE(((i * 7919) % 9) - 4, i * 2);
  return pcm;
}

/** Writes audio in 100 ms chunks, yielding to I/O every few so the call sends as it goes. */
async function feed(spotter: WakeSpotter, pcm: Buffer): Promise<void> {
  for (let at = 0, n = 0; at < pcm.length; at += 3_200, n++) {
    spotter.write(pcm.subarray(at, at + 3_200));
    if (n % 8 === 7) await new Promise((r) => setImmediate(r));
  }
}

/** Resolves with the value `probe` gives once it gives one; rejects after `ms`. */
function within<T>(ms: number, what: string, probe: (done: (v: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
    probe((v) => {
      clearTimeout(timer);
      resolve(v);
    });
  });
}

function spotter(overrides: Partial<WakeSpotterOptions> = {}) {
  const detections: sttApi.WakeDetection[] = [];
  const seen = { refused: 0, retried: 0, gaveUp: undefined as unknown };
  let onWake: ((d: sttApi.WakeDetection) => void) | undefined;
  const s = new WakeSpotter(client, {
    deviceId: "dev-1",
    sessionId: "sess-1",
    retry: { retries: 3, baseMs: 5, capMs: 20 },
    onWake: (d) => {
      detections.push(d);
      onWake?.(d);
    },
    onRefused: () => seen.refused++,
    onRetry: () => seen.retried++,
    onGiveUp: (err) => {
      seen.gaveUp = err;
    },
    ...overrides,
  });
  const next = (ms = 20_000) =>
    within<sttApi.WakeDetection>(ms, "a detection", (done) => {
      onWake = done;
    });
  return { s, detections, seen, next };
}

test("wake spotter - speech without the phrase gives no detection, the spoken phrase one", { skip }, async () => {
  const other = readFileSync(GOFORWARD);
  const phrase = spokenPcm16k("hey hotpin");
  const published: [string, string, EventPayload][] = [];
  const sink: EventSink = {
    publish: (deviceId, sessionId, payload) => published.push([deviceId, sessionId, payload]),
    confirm: async () => true,
  };
  const sp = spotter({ events: sink });
  const heard = sp.next();
  await feed(sp.s, Buffer.concat([other, phrase]));
  const hit = await heard;
  sp.s.stop();
  assert.equal(hit.phrase, "hey hotpin");
  // Detections come in stream order: the first is past the other speech, so that gave none.
  const otherMs = (other.length / 32_000) * 1000;
  assert.ok(hit.audioMs > otherMs, `detected at ${hit.audioMs} ms, the other speech is ${otherMs} ms`);
  assert.equal(sp.detections.length, 1);
  assert.equal(sp.s.droppedBytes, 0);
  // Published as the wakeWord event before onWake ran.
  assert.deepEqual(published, [
    [
      "dev-1",
      "sess-1",
      { $case: "wakeWord", value: { word: "hey hotpin", confidence: hit.confidence, source: "server" } },
    ],
  ]);
});

test("wake spotter - the service's stream limit ends a stream; the next audio opens a fresh one", {
  skip,
}, async () => {
  const sp = spotter();
  // 11 s of quiet: past HOTPIN_STT_WAKE_MAX_STREAM_MS, so the service ends the call with OUT_OF_RANGE.
  await feed(sp.s, quiet(11_000));
  const phrase = spokenPcm16k("hey hotpin");
  // Keep the audio coming, as a session does, until the reopened stream hears the phrase.
  const heard = sp.next();
  let got: sttApi.WakeDetection | undefined;
  void heard.then((d) => {
    got = d;
  });
  for (let i = 0; i < 20 && !got; i++) {
    await feed(sp.s, phrase);
    await new Promise((r) => setTimeout(r, 50));
  }
  const hit = await heard;
  sp.s.stop();
  assert.equal(hit.phrase, "hey hotpin");
  // A fresh stream: its position is counted from its own start, not from the 11 s before.
  assert.ok(hit.audioMs < 10_000, `audio_ms ${hit.audioMs}`);
  assert.equal(sp.seen.gaveUp, undefined);
});

test("wake spotter - refused while the one slot is taken: bounded retries, then it gives up", { skip }, async () => {
  let accepted: (() => void) | undefined;
  const holding = within<void>(10_000, "the holder's stream", (done) => {
    accepted = done;
  });
  const holder = spotter({ onAccepted: () => accepted?.() });
  await holding;
  const refusedOne = spotter({ retry: { retries: 2, baseMs: 5, capMs: 10 } });
  const err = await within<unknown>(10_000, "give-up", (done) => {
    const poll = setInterval(() => {
      if (refusedOne.seen.gaveUp !== undefined) {
        clearInterval(poll);
        done(refusedOne.seen.gaveUp);
      }
    }, 5);
  });
  assert.equal(grpcCode(err), grpc.status.RESOURCE_EXHAUSTED);
  assert.equal(refusedOne.seen.refused, 3, "the first call and 2 retries");
  assert.equal(refusedOne.seen.retried, 2);
  assert.equal(refusedOne.s.running, false);
  refusedOne.s.write(Buffer.alloc(3_200)); // after giving up: ignored, no call
  holder.s.stop();

  // With the slot free again, a refused spotter's retry gets in and hears the phrase.
  const late = spotter({ retry: { retries: 50, baseMs: 5, capMs: 20 } });
  const heard = late.next();
  const phrase = spokenPcm16k("hey hotpin");
  let got = false;
  void heard.then(() => {
    got = true;
  });
  for (let i = 0; i < 20 && !got; i++) {
    await feed(late.s, phrase);
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal((await heard).phrase, "hey hotpin");
  late.s.stop();
});

test("wake spotter - spotting off on the replica: gives up at once, no retries", { skip }, async () => {
  await using off = await startMesh({
    only: ["stt"],
    env: { HOTPIN_STT_WORKERS: "1", HOTPIN_STT_WAKE_PHRASES: "off" },
  });
  const offClient = createGrpcClient(stt.SpeechToTextClient, off.address("stt"));
  try {
    const gaveUp = await within<unknown>(10_000, "give-up", (done) => {
      new WakeSpotter(offClient, {
        deviceId: "d",
        sessionId: "s",
        retry: { retries: 3, baseMs: 5, capMs: 20 },
        onWake: () => assert.fail("no detection expected"),
        onGiveUp: done,
      });
    });
    assert.equal(grpcCode(gaveUp), grpc.status.FAILED_PRECONDITION);
  } finally {
    offClient.close();
  }
});

test("wake word event - a device's word is cleaned and bounded; no score means confidence 1", () => {
  assert.deepEqual(wakeWordEvent({ word: " 你好小智\u0000 " }, "device"), {
    $case: "wakeWord",
    value: { word: "你好小智\ufffd", confidence: 1, source: "device" },
  });
  const long = wakeWordEvent({ word: "x".repeat(500), confidence: 7 }, "device");
  assert.equal(Buffer.byteLength(long.value.word), MAX_WAKE_WORD_BYTES);
  assert.equal(long.value.confidence, 1);
  assert.equal(wakeWordEvent({ word: "hey", confidence: -3 }, "server").value.confidence, 0);
});
