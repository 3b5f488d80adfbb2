import assert from "node:assert/strict";
import { test } from "node:test";
import { runFuzz } from "./run";

test("fuzz - a short seeded run of the firmware, spec and xiaozhi dialects and malformed HTTP: no crash, every refusal specific, the healthy device served", async () => {
  const seed = Number(process.env.HOTPIN_FUZZ_SEED ?? 1337);
  const run = await runFuzz({ seed, framesPerDialect: 4_000, httpRequests: 200 });
  const summary = JSON.stringify({ seed, frames: run.frames, http: run.httpRequests, healthy: run.healthy });
  assert.ok(run.frames.firmware >= 4_000 && run.frames.spec >= 4_000 && run.frames.xiaozhi >= 4_000, summary);
  assert.equal(run.edgeAlive, true, `the edge process died: ${run.edgeTail}`);
  assert.deepEqual(run.bugLines, [], summary);
  assert.deepEqual(run.findings, [], summary);
  assert.equal(run.healthy.failures, 0, summary);
  assert.ok(run.healthy.exchanges > 0, summary);
});
