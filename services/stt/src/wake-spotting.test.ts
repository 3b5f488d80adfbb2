import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { parseWav } from "@hotpin/audio";
import type { stt } from "@hotpin/contracts";
import { spokenPcm16k } from "@hotpin/test-support";
import { prepareWakeFiles } from "./engines/wake-phrases";
import { goforward, type SpotOutcome, spot, startTestStt, TEST_DATA } from "./testing/harness";

const MODEL_DIR = "/usr/share/pocketsphinx/model/en-us";
const ONE_WORKER = { HOTPIN_STT_WORKERS: "1", HOTPIN_STT_WARM_RECOGNIZERS: "0" };

/** spot, retried (bounded) while the single slot is still being freed by the worker. */
async function spotWhenFree(client: stt.SpeechToTextClient, pcm: Buffer, rate = 16_000): Promise<SpotOutcome> {
  for (let i = 0; i < 200; i++) {
    const out = await spot(client, pcm, rate);
    if (out.error?.code !== 8 /* RESOURCE_EXHAUSTED */) return out;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error("the spotting slot was never freed");
}

async function metric(registry: { getSingleMetricAsString(name: string): Promise<string> }, name: string) {
  const text = await registry.getSingleMetricAsString(name);
  const line = text.split("\n").find((l) => l.startsWith(name) && !l.startsWith("#"));
  return Number(line?.split(" ").pop());
}

test("stt spot - espeak-ng saying the wake phrase is detected once; other speech gives none", async () => {
  await using s = await startTestStt(ONE_WORKER);
  assert.deepEqual(s.service.wakePhrases, ["hey hotpin"]);
  const pcm = spokenPcm16k("hey hotpin");
  const rate = 16_000;
  const heard = await spot(s.client, pcm, rate);
  assert.equal(heard.error, undefined);
  assert.equal(heard.detections.length, 1, JSON.stringify(heard.detections));
  const [hit] = heard.detections;
  assert.equal(hit?.phrase, "hey hotpin");
  assert.ok(hit && hit.confidence > 0 && hit.confidence <= 1, `confidence ${hit?.confidence}`);
  // Reported after the phrase, within the audio sent.
  const audioMs = (pcm.length / 2 / rate) * 1000;
  assert.ok(hit && hit.audioMs > 500 && hit.audioMs <= audioMs + 1, `audio_ms ${hit?.audioMs} of ${audioMs}`);

  const other = await spot(s.client, goforward());
  assert.equal(other.error, undefined);
  assert.deepEqual(other.detections, []);
  const book = readFileSync(`${TEST_DATA}/librivox/sense_and_sensibility_01_austen_64kb-0870.wav`);
  const wav = parseWav(book);
  assert.deepEqual((await spot(s.client, wav.data, wav.format.sampleRate)).detections, []);

  assert.equal(await metric(s.registry, "hotpin_stt_wake_detections_total"), 1);
  assert.equal(await metric(s.registry, "hotpin_stt_wake_active_streams"), 0);
  const rtf = await s.registry.getSingleMetricAsString("hotpin_stt_wake_real_time_factor");
  const sum = Number(/_sum (\S+)/.exec(rtf)?.[1]);
  const count = Number(/_count (\S+)/.exec(rtf)?.[1]);
  assert.equal(count, 3);
  // The share of a core one always-listening stream takes (the README quotes this figure).
  console.log(`wake spotting: mean engine time per audio second ${(sum / count).toFixed(4)}`);
  assert.ok(sum / count < 0.2, `real-time factor ${sum / count}`);
});

test("stt spot - a phrase said twice in one stream is detected twice", async () => {
  await using s = await startTestStt(ONE_WORKER);
  const once = spokenPcm16k("hey hotpin");
  const heard = await spot(s.client, Buffer.concat([once, once]));
  assert.equal(heard.error, undefined);
  assert.equal(heard.detections.length, 2, JSON.stringify(heard.detections));
  assert.ok((heard.detections[1]?.audioMs ?? 0) > (heard.detections[0]?.audioMs ?? 0));
});

test("stt spot - slots, stream length and config are bounded with clear statuses", async () => {
  await using s = await startTestStt({
    ...ONE_WORKER,
    HOTPIN_STT_WAKE_STREAMS_PER_WORKER: "1",
    HOTPIN_STT_WAKE_MAX_STREAM_MS: "10000",
    HOTPIN_STT_IDLE_TIMEOUT_MS: "60000",
  });
  assert.equal(s.service.pool.wakeCapacity, 1);
  // One slot: a second stream is refused while the first is open.
  const first = s.client.spot();
  first.write({ request: { $case: "config", value: { sampleRateHz: 16_000, deviceId: "d1", sessionId: "s1" } } });
  await new Promise((resolve) => first.once("metadata", resolve));
  const refused = await spot(s.client, Buffer.alloc(3200));
  assert.equal(refused.error?.code, 8 /* RESOURCE_EXHAUSTED */);
  first.cancel();
  first.on("error", () => {});

  // Longer than HOTPIN_STT_WAKE_MAX_STREAM_MS: OUT_OF_RANGE (the client reopens).
  const long = await spotWhenFree(s.client, Buffer.alloc(11 * 32_000));
  assert.equal(long?.error?.code, 11 /* OUT_OF_RANGE */);
  assert.match(long?.error?.details ?? "", /longer than 10000 ms/);

  const odd = await spotWhenFree(s.client, Buffer.alloc(3));
  assert.equal(odd.error?.code, 3 /* INVALID_ARGUMENT */);
  const badRate = await spotWhenFree(s.client, Buffer.alloc(2), 1);
  assert.equal(badRate.error?.code, 3);
  assert.ok((await metric(s.registry, "hotpin_stt_wake_refused_total")) >= 1);
});

test("stt spot - off when no phrase is configured: FAILED_PRECONDITION", async () => {
  await using s = await startTestStt({ ...ONE_WORKER, HOTPIN_STT_WAKE_PHRASES: "off" });
  assert.equal(s.service.pool.wakeCapacity, 0);
  const off = await spot(s.client, Buffer.alloc(3200));
  assert.equal(off.error?.code, 9 /* FAILED_PRECONDITION */);
  assert.match(off.error?.details ?? "", /HOTPIN_STT_WAKE_PHRASES is off/);
});

test("stt spot - without pocketsphinx the replica starts with spotting off and says why", async () => {
  await using s = await startTestStt({ ...ONE_WORKER, HOTPIN_STT_POCKETSPHINX_MODEL_DIR: "/nonexistent" });
  assert.deepEqual(s.service.wakePhrases, []);
  const off = await spot(s.client, Buffer.alloc(3200));
  assert.equal(off.error?.code, 9 /* FAILED_PRECONDITION */);
  assert.match(off.error?.details ?? "", /needs pocketsphinx: .*model file missing/);
});

test("stt wake phrases - dictionary words, compounds and configured pronunciations; else a start-up error", () => {
  const files = prepareWakeFiles({
    modelDir: MODEL_DIR,
    phrases: ["Hey  HotPin", "okay zorblax"],
    threshold: 1e-5,
    phoneLoopProb: 1e-10,
    pronunciations: ["zorblax=Z AO R B L AE K S"],
  });
  try {
    assert.deepEqual(files.phrases, ["hey hotpin", "okay zorblax"]);
    const dict = readFileSync(files.args[files.args.indexOf("-dict") + 1] as string, "utf8");
    assert.match(dict, /^hotpin HH AA T P IH N$/m);
    assert.match(dict, /^zorblax Z AO R B L AE K S$/m);
    const kws = readFileSync(files.args[files.args.indexOf("-kws") + 1] as string, "utf8");
    assert.equal(kws, "hey hotpin /1e-5/\nokay zorblax /1e-5/\n");
  } finally {
    files.remove();
  }
  const opts = { modelDir: MODEL_DIR, threshold: 1e-5, phoneLoopProb: 1e-10, pronunciations: [] };
  assert.throws(() => prepareWakeFiles({ ...opts, phrases: ["hey qqxzv"] }), /"qqxzv" has no pronunciation/);
  assert.throws(() => prepareWakeFiles({ ...opts, phrases: ["hey/1e-90/"] }), /must be letters/);
  assert.throws(
    () => prepareWakeFiles({ ...opts, phrases: ["hey"], pronunciations: ["bad"] }),
    /PRONUNCIATIONS entry "bad"/,
  );
});
