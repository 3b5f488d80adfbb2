import assert from "node:assert/strict";
import { once } from "node:events";
import { test } from "node:test";
import type { Worker } from "node:worker_threads";
import { startTestStt } from "../testing/harness";
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
