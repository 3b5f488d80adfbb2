import assert from "node:assert/strict";
import { test } from "node:test";
import { pcmBytes, pcmSamples, Resampler } from "@hotpin/audio";
import { readConfig } from "@hotpin/runtime";
import { type ListenerEvent, listenerOptions, listenerSettings } from "@hotpin/vad";
import { speechWithPauses } from "@hotpin/vad/dist/testing";
import { InputResampler } from "./rates";
import { VadTurns } from "./vad-turns";

/**
 * The session's VAD boundary on real speech: five LibriVox utterances with 1.5 s of silence
 * inserted before each, streamed at a Sesame client's 24 kHz in its 637-sample messages, resampled
 * once to 16 kHz and fed to the listener: five turns, each starting before and ending after its words.
 */
test("vad turns - LibriVox with pauses at 24 kHz: one turn per utterance, pre-roll first, ended by the silence", async () => {
  const script = speechWithPauses(1_500);
  const up = new Resampler(16_000, 24_000);
  const at24 = Buffer.concat([pcmBytes(up.push(pcmSamples(script.pcm))), pcmBytes(up.flush())]);
  const events: ListenerEvent[] = [];
  const failures: Error[] = [];
  const cfg = readConfig(listenerSettings, {});
  const turns = new VadTurns(
    listenerOptions(cfg, true),
    (e) => events.push(...e),
    (err) => failures.push(err),
  );
  const boundary = new InputResampler(24_000);
  try {
    const send = (from: number, to: number) => {
      for (let at = from; at < to; at += 637 * 2)
        turns.push(boundary.push(at24.subarray(at, Math.min(at + 637 * 2, to))));
    };
    // The first 1.8 s (the first words included) arrive before the WASM VAD is ready: they wait, nothing is lost.
    const early = 1_800 * 48;
    send(0, early);
    await turns.ready;
    send(early, at24.length);
    assert.deepEqual(failures, []);
    const marks = events.filter((e) => e.type !== "audio");
    assert.deepEqual(
      marks.map((e) => e.type),
      ["start", "end", "start", "end", "start", "end", "start", "end", "start", "end"],
    );
    for (const [i, u] of script.utterances.entries()) {
      const start = marks[2 * i];
      const end = marks[2 * i + 1];
      assert.ok(start?.type === "start" && end?.type === "end");
      // Resampling delays the stream by a few ms at most; the VAD still finds the words' edges.
      assert.ok(start.atMs >= u.fromMs - 100 && start.atMs <= u.fromMs + 400, `${u.id} starts at ${start.atMs}`);
      assert.ok(end.atMs >= u.toMs - 300 && end.atMs <= u.toMs + 1_000, `${u.id} ends at ${end.atMs}`);
      assert.equal(end.reason, "silence");
      // The pre-roll: 300 ms from before the speech start, plus the frames that decided it.
      assert.ok(start.audio.length >= 300 * 32, `pre-roll of ${start.audio.length / 32} ms`);
    }
  } finally {
    turns.free();
  }
});

test("vad turns - audio after free is ignored, and a listener freed before it was ready is released", async () => {
  const events: ListenerEvent[] = [];
  const turns = new VadTurns(
    listenerOptions(readConfig(listenerSettings, {}), false),
    (e) => events.push(...e),
    () => {},
  );
  turns.free();
  turns.push(Buffer.alloc(32_000, 0x7f));
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(events, []);
});
