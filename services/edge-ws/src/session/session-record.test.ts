import assert from "node:assert/strict";
import { test } from "node:test";
import { storage } from "@hotpin/contracts";
import { createLogger } from "@hotpin/runtime";
import { closeServices, connectServices } from "../pipeline/services";
import { startPeers } from "../test-peers.test-util";
import { sessionRecord } from "./session-record";

/** Polls a condition of the gRPC peer, bounded: the record is best effort and never awaited by the session. */
async function eventually(what: string, ok: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(ok(), what);
}

test("session record - connected starts the storage session, a close ends it by its code; unidentified: nothing", async () => {
  const peers = await startPeers({ transcript: "", llm: "ok", ttsFails: false });
  const address = peers.address;
  const services = connectServices({ stt: address, llm: address, tts: address, storage: address });
  try {
    const cfg = { instance: "edge-a", storageTimeoutMs: 5_000 };
    const log = createLogger("session-record-test", "silent");
    const anonymous = sessionRecord(services, cfg, { sessionId: "s-0", dialect: "spec", deviceId: undefined }, log);
    anonymous({ type: "disconnected", code: 1000, reason: "", wasRecording: false });
    const record = sessionRecord(services, cfg, { sessionId: "s-1", dialect: "firmware", deviceId: "pin.one" }, log);
    record({ type: "state_changed", from: "connected", to: "idle" });
    record({ type: "connected", remoteAddress: "10.0.0.7" });
    await eventually("StartSession reached storage", () => peers.sessions.has("pin.one"));
    record({ type: "disconnected", code: 1006, reason: "gone", wasRecording: false });
    await eventually("EndSession reached storage", () => peers.ended.length > 0);
    assert.deepEqual(
      peers.ended.map((e) => [e.id, e.status]),
      [["s-1", storage.SessionStatus.SESSION_STATUS_ERROR]],
      "only the identified session is ended, an abnormal close as an error",
    );
  } finally {
    closeServices(services);
    peers.stop();
  }
});
