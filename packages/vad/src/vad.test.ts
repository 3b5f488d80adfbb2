import assert from "node:assert/strict";
import { test } from "node:test";
import { readConfig } from "@hotpin/runtime";
import { BargeInGuard } from "./barge-in";
import { FrameSplitter, frameDbfs } from "./frames";
import {
  DEFAULT_BARGE_IN,
  DEFAULT_LISTENER_OPTIONS,
  Listener,
  type ListenerEvent,
  type ListenerOptions,
} from "./listener";
import { listenerOptions, listenerSettings } from "./settings";
import { librivox, type Script, silence, speechWithPauses, withNoise } from "./testing";
import { VadError, WebRtcVad } from "./webrtc-vad";

const BYTES_PER_MS = 32;

async function listen(pcm: Buffer, options: ListenerOptions = DEFAULT_LISTENER_OPTIONS, chunk = 1280) {
  const listener = await Listener.create(options);
  try {
    const events: ListenerEvent[] = [];
    for (let i = 0; i < pcm.length; i += chunk) events.push(...listener.push(pcm.subarray(i, i + chunk)));
    return events;
  } finally {
    listener.free();
  }
}

function ofType<T extends ListenerEvent["type"]>(events: ListenerEvent[], type: T) {
  return events.filter((e): e is Extract<ListenerEvent, { type: T }> => e.type === type);
}

function scaled(pcm: Buffer, db: number): Buffer {
  const out = Buffer.alloc(pcm.length);
  const k = 10 ** (db / 20);
  for (let i = 0; i < pcm.length; i += 2) out.writeInt16LE(Math.round(pcm.readInt16LE(i) * k), i);
  return out;
}

function expectOneTurnPerUtterance(events: ListenerEvent[], script: Script): void {
  const starts = ofType(events, "start");
  const ends = ofType(events, "end");
  assert.equal(ends.length, script.utterances.length, `turns: ${JSON.stringify(events.map((e) => e.type))}`);
  script.utterances.forEach((u, i) => {
    const start = starts[i]!;
    const end = ends[i]!;
    assert.ok(
      start.atMs >= u.fromMs - 40 && start.atMs < u.fromMs + 400,
      `turn ${i} starts at ${start.atMs}, speech at ${u.fromMs}`,
    );
    assert.equal(end.reason, "silence");
    // The end comes after the speech, by about the silence window (the files end with 80-280 ms of quiet).
    const late = end.atMs - u.toMs;
    assert.ok(late >= 100 && late <= 700, `turn ${i} ends ${late} ms after its file`);
  });
}

test("vad - the WebRTC VAD refuses rates, frames and modes it cannot run, and a freed VAD", async () => {
  await assert.rejects(WebRtcVad.create({ sampleRate: 24_000 as 16_000, frameMs: 20, mode: 3 }), VadError);
  await assert.rejects(WebRtcVad.create({ sampleRate: 16_000, frameMs: 25 as 20, mode: 3 }), /10\/20\/30 ms/);
  await assert.rejects(WebRtcVad.create({ sampleRate: 16_000, frameMs: 20, mode: 4 as 3 }), /mode/);
  const vad = await WebRtcVad.create({ sampleRate: 16_000, frameMs: 20, mode: 3 });
  assert.throws(() => vad.isSpeech(new Int16Array(100)), /320 samples/);
  assert.equal(vad.isSpeech(new Int16Array(320)), false);
  vad.free();
  vad.free();
  assert.throws(() => vad.isSpeech(new Int16Array(320)), /freed/);
});

test("vad - frames are the same however the bytes are chunked, odd splits included", () => {
  const pcm = librivox("0880").subarray(0, 20_000);
  const whole = new FrameSplitter(320).push(pcm);
  const splitter = new FrameSplitter(320);
  const pieces: Int16Array[] = [];
  for (let i = 0; i < pcm.length; i += 333) pieces.push(...splitter.push(pcm.subarray(i, i + 333)));
  assert.equal(whole.length, Math.floor(pcm.length / 640));
  assert.deepEqual(pieces, whole);
  assert.equal(frameDbfs(new Int16Array(320)), Number.NEGATIVE_INFINITY);
  assert.ok(Math.abs(frameDbfs(new Int16Array(320).fill(32767))) < 0.01);
});

test("vad - five LibriVox utterances with 1.5 s pauses are five turns, each ended by the silence window", async () => {
  const script = speechWithPauses(1500);
  const events = await listen(script.pcm);
  expectOneTurnPerUtterance(events, script);
  assert.equal(ofType(events, "discard").length, 0);
});

test("vad - white noise at -40 dBFS under the speech changes nothing", async () => {
  const script = speechWithPauses(1500);
  const events = await listen(withNoise(script.pcm, -40));
  expectOneTurnPerUtterance(events, script);
});

test("vad - a turn's audio is the pre-roll plus every frame up to its end, so the first syllable is kept", async () => {
  const script = speechWithPauses(1500);
  const events = await listen(script.pcm);
  const first = ofType(events, "start")[0]!;
  // The pre-roll reaches back 300 ms before the frames that decided the start.
  assert.ok(first.audio.length >= 300 * BYTES_PER_MS, `pre-roll ${first.audio.length} B`);
  const fromMs = first.detectedAtMs - first.audio.length / BYTES_PER_MS;
  assert.ok(fromMs <= script.utterances[0]!.fromMs - 200, `audio starts at ${fromMs} ms`);
  let bytes = 0;
  for (const e of events) {
    if (e.type === "start" || e.type === "audio") bytes += e.audio.length;
    if (e.type === "end") break;
  }
  const end = ofType(events, "end")[0]!;
  assert.equal(bytes, (end.atMs - fromMs) * BYTES_PER_MS);
});

test("vad - the same audio gives the same events whatever the chunk size", async () => {
  const pcm = speechWithPauses(800).pcm;
  const strip = (events: ListenerEvent[]) =>
    events.filter((e) => e.type !== "audio").map((e) => ({ ...e, audio: undefined }));
  const a = strip(await listen(pcm, DEFAULT_LISTENER_OPTIONS, 640));
  const b = strip(await listen(pcm, DEFAULT_LISTENER_OPTIONS, 4097));
  assert.deepEqual(a, b);
  assert.equal(a.filter((e) => e.type === "end").length, 5);
});

test("vad - a 380 ms hesitation stays inside the turn; a 1 s pause ends it", async () => {
  // 0880 ends with 80 ms of quiet and 0870 starts with speech, so the pause is the gap + 80 ms.
  const join = (gapMs: number) =>
    Buffer.concat([silence(500), librivox("0880"), silence(gapMs), librivox("0870"), silence(1500)]);
  assert.equal(ofType(await listen(join(300)), "end").length, 1);
  assert.equal(ofType(await listen(join(1000)), "end").length, 2);
});

test("vad - a burst shorter than the minimum speech is discarded, not a turn", async () => {
  const burst = librivox("0880").subarray(0, 120 * BYTES_PER_MS);
  const events = await listen(Buffer.concat([silence(500), burst, silence(1500)]));
  assert.deepEqual(
    events.filter((e) => e.type !== "audio").map((e) => e.type),
    ["start", "discard"],
  );
});

test("vad - an utterance longer than the maximum is cut there and the rest is a new turn", async () => {
  const options = { ...DEFAULT_LISTENER_OPTIONS, turn: { ...DEFAULT_LISTENER_OPTIONS.turn, maxUtteranceMs: 2000 } };
  const events = await listen(Buffer.concat([silence(500), librivox("0870"), silence(1500)]), options);
  const ends = ofType(events, "end");
  const starts = ofType(events, "start");
  assert.equal(ends[0]?.reason, "max-length");
  assert.equal(ends[0]!.atMs - starts[0]!.atMs, 2000);
  assert.ok(ends.length >= 3 && ends.at(-1)?.reason === "silence", JSON.stringify(ends));
});

test("vad - reset forgets the utterance under way", async () => {
  const listener = await Listener.create();
  try {
    const speech = librivox("0870");
    listener.push(silence(500));
    assert.equal(ofType(listener.push(speech.subarray(0, 32_000)), "start").length, 1);
    listener.reset();
    // The rest of the speech starts a new turn, and the silence after it ends that one turn.
    const events = listener.push(Buffer.concat([speech.subarray(32_000), silence(1500)]));
    assert.deepEqual(
      events.filter((e) => e.type !== "audio").map((e) => e.type),
      ["start", "end"],
    );
  } finally {
    listener.free();
  }
});

const withBargeIn = (bargeIn = DEFAULT_BARGE_IN): ListenerOptions => ({ ...DEFAULT_LISTENER_OPTIONS, bargeIn });

test("vad - barge-in: speech over the reply interrupts within 300 ms of its start, and the turn follows", async () => {
  const listener = await Listener.create(withBargeIn());
  try {
    listener.playbackStarted();
    assert.deepEqual(listener.push(silence(1000)), []);
    const speechFromMs = listener.positionMs;
    const events: ListenerEvent[] = [];
    const speech = Buffer.concat([librivox("0880"), silence(1500)]);
    for (let i = 0; i < speech.length; i += 1280) events.push(...listener.push(speech.subarray(i, i + 1280)));
    const kinds = events.filter((e) => e.type !== "audio").map((e) => e.type);
    assert.deepEqual(kinds, ["barge-in", "start", "end"]);
    // The file opens with 280 ms of breath before the first word: the guard dates the speech to the word.
    const bargeIn = ofType(events, "barge-in")[0]!;
    assert.ok(
      bargeIn.speechAtMs >= speechFromMs + 200 && bargeIn.speechAtMs <= speechFromMs + 300,
      `${bargeIn.speechAtMs}`,
    );
    const reactionMs = bargeIn.atMs - bargeIn.speechAtMs;
    assert.ok(reactionMs <= 200, `barge-in after ${reactionMs} ms of speech`);
    // The held turn comes out whole: its pre-roll still reaches back before the speech.
    const start = ofType(events, "start")[0]!;
    assert.ok(start.detectedAtMs - start.audio.length / BYTES_PER_MS <= speechFromMs);
    // Playback is over for the listener; the caller's own playbackEnded is then a no-op.
    assert.deepEqual(listener.playbackEnded(), []);
  } finally {
    listener.free();
  }
});

test("vad - barge-in ignores speech in the first part of playback and speech too quiet to be the user", async () => {
  const speech = Buffer.concat([librivox("0880"), silence(1500)]);
  // 25 dB down the VAD still hears a turn, but the guard does not take it for the user.
  const quiet = scaled(speech, -25);
  assert.equal(ofType(await listen(Buffer.concat([silence(100), quiet])), "end").length, 1);
  for (const [label, pcm, bargeIn] of [
    ["quiet", quiet, DEFAULT_BARGE_IN],
    ["early", speech, { ...DEFAULT_BARGE_IN, ignoreFirstMs: 5_000 }],
  ] as const) {
    const listener = await Listener.create(withBargeIn(bargeIn));
    try {
      listener.playbackStarted();
      listener.push(silence(100));
      const events = listener.push(pcm);
      // The utterance ended during playback without qualifying: nothing is let through.
      assert.deepEqual(events, [], label);
      assert.deepEqual(listener.playbackEnded(), [], label);
    } finally {
      listener.free();
    }
  }
});

test("vad - without barge-in, speech during the reply is held and dropped when the reply ends", async () => {
  const listener = await Listener.create();
  try {
    listener.playbackStarted();
    const speech = librivox("0870");
    assert.deepEqual(listener.push(Buffer.concat([silence(500), speech.subarray(0, 64_000)])), []);
    assert.deepEqual(listener.playbackEnded(), []);
    // Listening goes on normally after the reply: the rest of the sentence is a turn, and so is the next.
    const after = listener.push(
      Buffer.concat([speech.subarray(64_000), silence(1500), librivox("0880"), silence(1500)]),
    );
    assert.deepEqual(
      after.filter((e) => e.type !== "audio").map((e) => e.type),
      ["start", "end", "start", "end"],
    );
  } finally {
    listener.free();
  }
});

test("vad - with barge-in on, a user-loud utterance under way when the reply ends becomes the turn", async () => {
  // Loud, but the guard wants more of it than there is before the reply ends: no barge-in.
  const listener = await Listener.create(withBargeIn({ ...DEFAULT_BARGE_IN, minSpeechMs: 5_000 }));
  try {
    listener.playbackStarted();
    assert.deepEqual(listener.push(Buffer.concat([silence(500), librivox("0870").subarray(0, 64_000)])), []);
    const released = listener.playbackEnded();
    assert.deepEqual(
      released.map((e) => e.type),
      ["start", "audio"],
    );
    const rest = listener.push(Buffer.concat([librivox("0870").subarray(64_000), silence(1500)]));
    assert.equal(ofType(rest, "end").length, 1);
  } finally {
    listener.free();
  }
});

test("vad - with barge-in on, a quiet (echo-level) utterance under way when the reply ends is dropped", async () => {
  const listener = await Listener.create(withBargeIn(DEFAULT_BARGE_IN));
  try {
    listener.playbackStarted();
    // 25 dB down: still speech to the VAD, never as loud as the guard's -40 dBFS (as in the test above).
    const quiet = scaled(librivox("0880"), -25);
    assert.deepEqual(listener.push(Buffer.concat([silence(500), quiet.subarray(0, 64_000)])), []);
    assert.deepEqual(listener.playbackEnded(), []);
    // The echo stops with the reply: nothing of it ever becomes a turn.
    assert.deepEqual(listener.push(silence(1500)), []);
  } finally {
    listener.free();
  }
});

test("vad - the barge-in guard counts loud voiced time, restarts after a gap and waits out the first part", () => {
  const guard = new BargeInGuard({ ignoreFirstMs: 100, minDbfs: -30, minSpeechMs: 60, maxGapMs: 40 }, 20);
  const frame = (atMs: number, voiced: boolean, dbfs: number) => ({ pcm: new Int16Array(0), atMs, voiced, dbfs });
  assert.equal(guard.push(frame(0, true, -10)), undefined, "not playing");
  guard.playbackStarted(1000);
  assert.equal(guard.push(frame(1040, true, -10)), undefined, "first 100 ms");
  assert.equal(guard.push(frame(1100, true, -10)), undefined);
  assert.equal(guard.push(frame(1120, true, -10)), undefined);
  assert.equal(guard.push(frame(1140, false, -10)), undefined);
  assert.equal(guard.push(frame(1160, true, -50)), undefined, "too quiet: a gap");
  // The 40 ms gap reset the count: two more loud frames are not enough, three are.
  assert.equal(guard.push(frame(1180, true, -10)), undefined);
  assert.equal(guard.push(frame(1200, true, -10)), undefined);
  assert.equal(guard.push(frame(1220, true, -10)), 1180);
  guard.playbackEnded();
  assert.equal(guard.playing, false);
  assert.equal(guard.push(frame(1240, true, -10)), undefined);
});

test("vad - settings read from the environment become listener options; bad values are all named", () => {
  const values = readConfig(listenerSettings, { HOTPIN_VAD_END_SILENCE_MS: "800", HOTPIN_BARGE_IN_MIN_DBFS: "-35" });
  const options = listenerOptions(values, true);
  assert.equal(options.turn.endSilenceMs, 800);
  assert.equal(options.mode, 3);
  assert.deepEqual(options.bargeIn, { ...DEFAULT_BARGE_IN, minDbfs: -35 });
  assert.equal(listenerOptions(values, false).bargeIn, false);
  assert.deepEqual(listenerOptions(readConfig(listenerSettings, {}), false), DEFAULT_LISTENER_OPTIONS);
  assert.throws(
    () => readConfig(listenerSettings, { HOTPIN_VAD_MODE: "4", HOTPIN_VAD_END_SILENCE_MS: "50" }),
    (err: Error) => /HOTPIN_VAD_MODE/.test(err.message) && /HOTPIN_VAD_END_SILENCE_MS/.test(err.message),
  );
});
