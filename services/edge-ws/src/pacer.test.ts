import assert from "node:assert/strict";
import { test } from "node:test";
import { frames, sendPaced } from "./pacer";
import { RecordingTransport } from "./recording-transport.test-util";

test("pacer - frames split a buffer without copying", () => {
  const parts = [...frames(Buffer.alloc(10_000), 4096)];
  assert.deepEqual(
    parts.map((p) => p.length),
    [4096, 4096, 1808],
  );
});

test("pacer - never runs further ahead of the playback clock than the lead", async () => {
  const t = new RecordingTransport();
  let clock = 0;
  const sentAt: number[] = [];
  const origSend = t.sendBinary.bind(t);
  t.sendBinary = (b) => {
    sentAt.push(clock);
    origSend(b);
  };
  // A fake clock that advances only when the pacer waits: the check is on bytes, not on sleeps.
  const realSetTimeout = setTimeout;
  const now = () => clock;
  const total = 32_000 * 3;
  const sending = sendPaced(t, frames(Buffer.alloc(total), 4000), {
    bytesPerSecond: 32_000,
    leadMs: 1000,
    highWaterBytes: 1 << 20,
    now,
  });
  // Advance the clock each turn of the event loop until everything is sent.
  while (t.binaries().length < total / 4000) {
    clock += 50;
    await new Promise((r) => realSetTimeout(r, 0));
    if (clock > 60_000) break;
  }
  clock += 10_000;
  await sending;
  sentAt.forEach((at, i) => {
    const bytesSent = (i + 1) * 4000;
    assert.ok(bytesSent <= 32_000 + (at * 32_000) / 1000 + 4000, `frame ${i} at ${at} ms is too early`);
  });
});
