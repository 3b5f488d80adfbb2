import assert from "node:assert/strict";
import { test } from "node:test";
import { type events, storage } from "@hotpin/contracts";
import { decodeEvent, eventRows } from "./to-rows";

const { LogLevel, SessionStatus } = storage;
const base = { id: "e", deviceId: "dev", sessionId: "s", time: new Date(1_000), edgeInstance: "edge-1" };

test("storage - an Error event becomes an error-level log row keyed by the event id", () => {
  const ev: events.Event = { ...base, payload: { $case: "error", value: { code: "stt_failed", message: "down" } } };
  const rows = eventRows(ev, "id-1", 1000, 5);
  assert.equal(rows.log.level, LogLevel.LOG_LEVEL_ERROR);
  assert.equal(rows.log.dedup_key, "evt:id-1");
  assert.equal(rows.log.time, 1_000);
  assert.equal(rows.session, undefined);
});

test("storage - a Log event keeps its message and level as sent", () => {
  const ev: events.Event = { ...base, payload: { $case: "log", value: { level: "WARNING", message: "as is" } } };
  const rows = eventRows(ev, "id-2", 1000, 5);
  assert.equal(rows.log.message, "as is");
  assert.equal(rows.log.level, LogLevel.LOG_LEVEL_WARNING);
});

test("storage - connected and disconnected events start and end the session", () => {
  const on = eventRows(
    { ...base, payload: { $case: "connected", value: { dialect: "spec", remoteAddress: "" } } },
    "a",
    1000,
    0,
  );
  assert.deepEqual(on.session, {
    kind: "start",
    id: "s",
    deviceId: "dev",
    dialect: "spec",
    edgeInstance: "edge-1",
    startedAt: 1_000,
  });
  const off = eventRows(
    { ...base, payload: { $case: "disconnected", value: { closeCode: 1000, reason: "bye", clean: true } } },
    "b",
    1000,
    0,
  );
  assert.equal(off.session?.kind, "end");
  assert.equal(off.session?.kind === "end" && off.session.status, SessionStatus.SESSION_STATUS_COMPLETED);
});

test("storage - transcripts and answers are logged without the user's words", () => {
  const t = eventRows(
    {
      ...base,
      payload: { $case: "transcript", value: { utterance: 1, text: "private words", confidence: 1, durationMs: 1 } },
    },
    "c",
    1000,
    0,
  );
  const a = eventRows(
    {
      ...base,
      payload: { $case: "llmText", value: { utterance: 1, text: "private answer", model: "m", hadImage: false } },
    },
    "d",
    1000,
    0,
  );
  assert.ok(!t.log.message.includes("private") && !a.log.message.includes("private"));
});

test("storage - oversized text is cut to the limit and garbage does not decode", () => {
  const ev: events.Event = { ...base, payload: { $case: "log", value: { level: "info", message: "é".repeat(1000) } } };
  const rows = eventRows(ev, "e", 100, 0);
  assert.ok(Buffer.byteLength(rows.log.message) <= 100, `got ${Buffer.byteLength(rows.log.message)} bytes`);
  assert.equal(decodeEvent(new Uint8Array([0xff, 0xff, 0xff])), undefined);
});
