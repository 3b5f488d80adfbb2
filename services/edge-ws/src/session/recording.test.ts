import assert from "node:assert/strict";
import { test } from "node:test";
import { spec } from "../dialects/spec";
import { RecordingTransport } from "../recording-transport.test-util";
import { Recorder } from "./recording";
import { memoryDeps } from "./session.test-util";
import { SessionCore } from "./session-core";

/** A recorder on an identified spec session over an in-memory transport. */
function recorder(env: NodeJS.ProcessEnv = {}) {
  const { deps, types } = memoryDeps({ HOTPIN_EDGE_ACK_EVERY: "1", ...env });
  const transport = new RecordingTransport();
  const dialect = spec.create(transport, { cfg: deps.cfg, speech: deps.apologies });
  const ended: number[] = [];
  const core = new SessionCore(
    deps,
    dialect,
    transport,
    () => {},
    (code) => ended.push(code),
  );
  const rec = new Recorder(
    core,
    core.exchangeHost({ rerecord: (reason) => rec.rerecord(reason), answered: () => {}, playbackStarted: () => {} }),
  );
  core.deviceId = "pin.rec";
  core.state = "idle";
  const sent = (type: string) => transport.texts().filter((m) => m.type === type);
  /** Lets the outbox's confirmed messages go out. */
  const settle = () => new Promise((resolve) => setImmediate(resolve));
  return { core, rec, transport, sent, settle, types, ended, cfg: deps.cfg };
}

const chunk = Buffer.alloc(320);

test("recording - chunks are ACKed with their seq; a duplicate is dropped, a small gap goes on", () => {
  const { core, rec, sent } = recorder();
  assert.equal(rec.begin(false), true);
  assert.equal(core.state, "recording");
  rec.add(chunk, 0);
  rec.add(chunk, 0);
  rec.add(chunk, 2);
  assert.deepEqual(
    sent("ack").map((m) => m.seq),
    [0, 2],
  );
  assert.equal(rec.current?.chunks, 2);
  rec.drop();
});

test("recording - a gap beyond HOTPIN_EDGE_MAX_SEQ_GAP drops the recording and asks again", async () => {
  const { core, rec, sent, settle } = recorder({ HOTPIN_EDGE_MAX_SEQ_GAP: "3" });
  rec.begin(false);
  rec.add(chunk, 0);
  rec.add(chunk, 10);
  assert.equal(rec.current, undefined);
  assert.equal(core.state, "stalled");
  await settle();
  assert.deepEqual(sent("request_rerecord").at(-1), {
    type: "request_rerecord",
    reason: sent("request_rerecord").at(-1)?.reason,
    code: "chunks_lost",
    attempt: 1,
  });
});

test("recording - past HOTPIN_EDGE_MAX_RERECORDS a person must act (intervention)", async () => {
  const { core, rec, sent, settle, cfg } = recorder({ HOTPIN_EDGE_MAX_RERECORDS: "2" });
  for (let i = 0; i < cfg.maxRerecords; i++) rec.rerecord("stalled");
  await settle();
  assert.deepEqual(
    sent("request_rerecord").map((m) => m.attempt),
    [1, 2],
  );
  assert.equal(core.state, "stalled");
  rec.rerecord("stalled");
  await settle();
  assert.equal(core.state, "idle", "waiting for the user");
  assert.equal(sent("request_user_intervention").length, 1);
  assert.equal(sent("request_rerecord").length, 2);
});

test("recording - a spec stream that stops arriving stalls into a re-record (the turn detector's quiet)", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const { core, rec, cfg } = recorder();
  rec.begin(false);
  rec.add(chunk, 0);
  t.mock.timers.tick(cfg.chunkTimeoutMs - 1);
  rec.add(chunk, 1); // each chunk re-arms the timer
  t.mock.timers.tick(cfg.chunkTimeoutMs - 1);
  assert.equal(core.state, "recording");
  t.mock.timers.tick(1);
  assert.equal(rec.current, undefined);
  assert.equal(core.state, "stalled");
});

test("recording - past HOTPIN_EDGE_MAX_RECORDING_MS the recording is cut (and said so) and processed", () => {
  const { core, rec, sent } = recorder({ HOTPIN_EDGE_MAX_RECORDING_MS: "1000" });
  rec.begin(false);
  for (let seq = 0; seq < 3; seq++) rec.add(Buffer.alloc(16_000), seq); // 500 ms each at 16 kHz
  assert.equal(rec.current, undefined);
  assert.equal(core.state, "processing");
  assert.equal(sent("error").at(-1)?.code, "recording_too_long");
  assert.equal(sent("ack").length, 2);
  core.abort.abort();
});

test("recording - a draining server refuses a new recording", () => {
  const { core, rec, sent } = recorder();
  core.draining = true;
  assert.equal(rec.begin(false), false);
  assert.equal(core.state, "idle");
  assert.equal(sent("error").at(-1)?.code, "shutting_down");
});
