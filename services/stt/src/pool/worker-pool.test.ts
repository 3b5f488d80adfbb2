import assert from "node:assert/strict";
import { once } from "node:events";
import { test } from "node:test";
import type { Worker } from "node:worker_threads";
import type { stt as sttApi } from "@hotpin/contracts";
import { baseConfig, collect, goforward, recognize, startTestStt, waitFor } from "../testing/harness";
import type { StreamEvents } from "./worker-pool";

const ignore: StreamEvents = { onAck() {}, onPartial() {}, onFinal() {}, onError() {} };

test("stt pool - streams cancelled on a worker that dies are no longer counted as active", async () => {
  await using stt = await startTestStt({
    HOTPIN_STT_WORKERS: "1",
    HOTPIN_STT_STREAMS_PER_WORKER: "2",
    HOTPIN_STT_WARM_RECOGNIZERS: "0",
  });
  const pool = stt.service.pool;
  const stream = pool.acquire(ignore);
  assert.ok(stream);
  const worker = (pool as unknown as { members: { worker: Worker }[] }).members[0]?.worker;
  assert.ok(worker);
  const exited = once(worker, "exit");
  // The worker is idle (the stream was never opened), so stopping it cuts no native call; it
  // stops before it can confirm the cancel that follows.
  void worker.terminate();
  stream.cancel();
  // The slot stays taken until the worker confirms the release.
  assert.equal(pool.active, 1);
  await exited;
  assert.equal(pool.active, 0);
});

test("stt pool - one stream's big chunk does not hold up another stream on the same worker", async () => {
  await using stt = await startTestStt({
    HOTPIN_STT_ENGINE: "pocketsphinx",
    HOTPIN_STT_WORKERS: "1",
    HOTPIN_STT_STREAMS_PER_WORKER: "2",
    HOTPIN_STT_WARM_RECOGNIZERS: "2",
  });
  const order: string[] = [];
  // 5.6 s of speech in one message (under the 256 KiB chunk limit): 44 quanta of work.
  const big = Buffer.concat([goforward(), goforward()]);
  const a = recognize(stt.client, big, { partialResults: false }, big.length);
  const b = stt.client.recognize();
  const bDone = collect(b);
  b.on("data", (res: sttApi.RecognizeResponse) => {
    if (res.result?.$case === "partial" && !order.includes("b partial")) order.push("b partial");
  });
  b.write({ request: { $case: "config", value: { ...baseConfig(), partialResults: true } } });
  const speech = goforward();
  for (let at = 0; at < speech.length; at += 4096)
    b.write({ request: { $case: "audio", value: speech.subarray(at, at + 4096) } });
  b.end();
  const aDone = a.then((out) => {
    order.push("a final");
    return out;
  });
  const [outA, outB] = await Promise.all([aDone, bDone]);
  assert.equal(outA.final?.text, "go forward ten meters go forward ten meters");
  assert.equal(outB.final?.text, "go forward ten meters");
  // Served in turns, B's audio is decoded between A's quanta rather than after all of A.
  assert.equal(order[0], "b partial", order.join(", "));
});

test("stt pool - a decoder for every slot is built at start-up, and streams give theirs back (hotpin_stt_recognizers)", async () => {
  await using stt = await startTestStt({
    HOTPIN_STT_ENGINE: "pocketsphinx",
    HOTPIN_STT_WORKERS: "1",
    HOTPIN_STT_STREAMS_PER_WORKER: "2",
  });
  const recognizers = async () => {
    const text = await stt.registry.metrics();
    const value = (state: string) =>
      Number(new RegExp(`^hotpin_stt_recognizers\\{state="${state}"\\} (\\d+)$`, "m").exec(text)?.[1]);
    return { live: value("live"), idle: value("idle") };
  };
  // Memory is paid at start-up: the pool never grows past it later (issue 13's soak).
  assert.deepEqual(await recognizers(), { live: 0, idle: 2 });
  for (let round = 0; round < 2; round++) {
    const outs = await Promise.all([recognize(stt.client, goforward()), recognize(stt.client, goforward())]);
    for (const out of outs) assert.equal(out.final?.text, "go forward ten meters");
    assert.deepEqual(await recognizers(), { live: 0, idle: 2 });
  }
  assert.match(await stt.registry.metrics(), /^hotpin_stt_worker_heap_bytes [1-9]\d*$/m);
});

test("stt pool - a stream whose decoder must be built does not hold up the worker's other streams", async () => {
  await using stt = await startTestStt({
    HOTPIN_STT_ENGINE: "pocketsphinx",
    HOTPIN_STT_WORKERS: "1",
    HOTPIN_STT_STREAMS_PER_WORKER: "2",
    // One decoder ready: the second stream needs one built (~0.5 s of ps_init).
    HOTPIN_STT_WARM_RECOGNIZERS: "1",
  });
  const speech = goforward();
  const half = speech.length / 2 - ((speech.length / 2) % 4096);
  const send = (call: typeof a, from: number, to: number) => {
    for (let at = from; at < to; at += 4096)
      call.write({ request: { $case: "audio", value: speech.subarray(at, Math.min(to, at + 4096)) } });
  };
  const a = stt.client.recognize();
  const aDone = collect(a);
  a.write({ request: { $case: "config", value: baseConfig() } });
  send(a, 0, half);
  const b = stt.client.recognize();
  const bDone = collect(b);
  b.write({ request: { $case: "config", value: baseConfig() } });
  send(b, 0, speech.length);
  b.end();
  // The worker answers while B's decoder is being built: the build is not on its thread (built
  // there, it would start and end within one call and never be seen).
  const during = await waitFor(async () => {
    const c = await stt.service.pool.counts();
    return c.building === 1 ? c : undefined;
  });
  assert.equal(during.live, 1);
  send(a, half, speech.length);
  a.end();
  const [outA, outB] = await Promise.all([aDone, bDone]);
  assert.equal(outA.final?.text, "go forward ten meters");
  assert.equal(outB.final?.text, "go forward ten meters");
  const after = await stt.service.pool.counts();
  assert.deepEqual([after.live, after.idle, after.building], [0, 2, 0]);
});

test("stt pool - spotting and recognition hold slots of their own: either full, the other still gets one", async () => {
  await using stt = await startTestStt({
    HOTPIN_STT_WORKERS: "1",
    HOTPIN_STT_STREAMS_PER_WORKER: "1",
    HOTPIN_STT_WAKE_STREAMS_PER_WORKER: "2",
    HOTPIN_STT_WARM_RECOGNIZERS: "0",
  });
  const pool = stt.service.pool;
  assert.equal(pool.capacity, 1);
  assert.equal(pool.wakeCapacity, 2);
  const spots = [pool.acquire(ignore, "spot"), pool.acquire(ignore, "spot")];
  assert.ok(spots.every(Boolean));
  assert.equal(pool.acquire(ignore, "spot"), undefined, "spotting slots are full");
  const recognition = pool.acquire(ignore);
  assert.ok(recognition, "a recognition slot is still free");
  assert.equal(pool.acquire(ignore), undefined, "recognition slots are full");
  spots[0]?.cancel();
  // A cancelled slot comes back once the worker confirms the release.
  const again = await waitFor(async () => pool.acquire(ignore, "spot"));
  assert.equal(pool.acquire(ignore), undefined, "a freed spotting slot is not a recognition slot");
  for (const s of [again, recognition, spots[1]]) s?.cancel();
});
