import assert from "node:assert/strict";
import { test } from "node:test";
import { toWav } from "@hotpin/audio";
import { AckWindow } from "./ack-window";
import { backoffDelayMs } from "./backoff";
import { replyPath } from "./cli";
import { parseCli, UsageError } from "./cli-args";
import { chunkPcm, speechFromBytes } from "./speech-input";
import { percentiles } from "./stats";

test("backoff - doubles from the base up to the cap; jitter only shortens", () => {
  const o = { baseMs: 1000, capMs: 8000, jitter: 0.5 };
  assert.deepEqual(
    [0, 1, 2, 3, 4, 10].map((a) => backoffDelayMs(a, o, () => 0)),
    [1000, 2000, 4000, 8000, 8000, 8000],
  );
  assert.equal(
    backoffDelayMs(2, o, () => 1),
    2000,
  );
  assert.equal(
    backoffDelayMs(2, o, () => 0.5),
    3000,
  );
});

test("ack window - counts unacked chunks, measures latency, rejects impossible ACKs", () => {
  const w = new AckWindow();
  w.onSent(10);
  w.onSent(20);
  assert.equal(w.unacked, 2);
  w.onAck(2, 35);
  assert.equal(w.unacked, 0);
  assert.deepEqual(w.latenciesMs, [15]);
  assert.throws(() => w.onAck(3, 40), /only 2 were sent/);
  assert.throws(() => w.onAck(1, 40), /backwards/);
  assert.throws(() => w.onAck(Number.NaN, 40), /integer/);
});

test("percentiles - nearest rank", () => {
  const values = Array.from({ length: 100 }, (_, i) => i + 1);
  assert.deepEqual(percentiles(values), { count: 100, p50: 50, p95: 95, p99: 99, max: 100 });
  assert.deepEqual(percentiles([]), { count: 0 });
  assert.deepEqual(percentiles([7]), { count: 1, p50: 7, p95: 7, p99: 7, max: 7 });
});

test("speech input - WAV must be 16 kHz mono; raw is chunked with a short last chunk", () => {
  const pcm = Buffer.alloc(10_000);
  assert.equal(speechFromBytes(toWav(pcm)).length, 10_000);
  assert.throws(() => speechFromBytes(toWav(pcm, { sampleRate: 8000, channels: 1, bitsPerSample: 16 })), /16 kHz/);
  assert.deepEqual(
    chunkPcm(pcm, 4096).map((c) => c.length),
    [4096, 4096, 1808],
  );
  assert.throws(() => chunkPcm(pcm, 4095), /even/);
});

test("cli - parses flags with defaults, rejects bad values", () => {
  const c = parseCli(["--dialect", "spec", "--devices", "3", "--pacing", "fast", "a.raw"], {});
  assert.equal(c.help, false);
  if (c.help) return;
  assert.equal(c.dialect, "spec");
  assert.equal(c.devices, 3);
  assert.equal(c.pacing, "fast");
  assert.equal(c.token, "your_api_token_here");
  assert.equal(c.url, "ws://127.0.0.1:8000");
  assert.deepEqual(parseCli(["a.raw"], { HOTPIN_SIM_TOKEN: "t" }), { ...parseCli(["a.raw"], {}), token: "t" });
  assert.deepEqual(parseCli(["--help"]), { help: true });
  assert.throws(() => parseCli(["--dialect", "x", "a.raw"]), UsageError);
  assert.throws(() => parseCli(["--devices", "0", "a.raw"]), UsageError);
  assert.throws(() => parseCli([]), /exactly one/);
  assert.throws(() => parseCli(["--capabilities", "[1]", "a.raw"]), /JSON object/);
  assert.throws(() => parseCli(["--nope", "a.raw"]), UsageError);
});

test("cli - reply file names: as given for one reply, suffixed for several", () => {
  assert.equal(replyPath("out/reply.wav", true, "d-001", 1), "out/reply.wav");
  assert.equal(replyPath("out/reply.wav", false, "d-001", 2), "out/reply-d-001-2.wav");
});

test("sim cli - a token that starts with '-' is taken in the --token=VALUE form npm start prints", () => {
  const c = parseCli(["--token=-Xy7_starts-with-dash", "a.raw"], {});
  assert.equal((c as { token?: string }).token, "-Xy7_starts-with-dash");
});
