import assert from "node:assert/strict";
import { test } from "node:test";
import type { Dialect, PlaybackResult, Reply } from "../dialects/dialect";
import type { Output } from "./model";
import { Outbox } from "./outbox";

/** A dialect that writes down what reaches the wire, in order. */
function wire() {
  const sent: string[] = [];
  const dialect = {
    send: (out: Output) => sent.push(out.type),
    play: async (): Promise<PlaybackResult> => {
      sent.push("audio");
      return { outcome: "played", bytes: 1 };
    },
  } as unknown as Dialect;
  return { sent, dialect };
}

const reply = {} as Reply;

test("outbox - with nothing queued an output is written at once (the firmware's ACK timing)", () => {
  const { sent, dialect } = wire();
  const outbox = new Outbox(dialect, () => Promise.resolve());
  outbox.send({ type: "ack", chunks: 2, bytes: 8192 });
  assert.deepEqual(sent, ["ack"]);
});

test("outbox - a milestone waits for its events; what follows waits behind it, playback last", async () => {
  const { sent, dialect } = wire();
  let stored!: () => void;
  const outbox = new Outbox(dialect, () => new Promise<void>((r) => (stored = r)));
  const confirmed = outbox.confirmed({ type: "transcript", text: "x", hasImage: false });
  outbox.send({ type: "partial", text: "later" });
  const played = outbox.play(reply, {} as never);
  await Promise.resolve();
  assert.deepEqual(sent, [], "nothing overtakes the milestone");
  stored();
  await confirmed;
  await played;
  assert.deepEqual(sent, ["transcript", "partial", "audio"]);
  outbox.send({ type: "complete" });
  assert.deepEqual(sent.at(-1), "complete", "an empty outbox writes at once again");
});

test("outbox - after close nothing more reaches the device", async () => {
  const { sent, dialect } = wire();
  let stored!: () => void;
  const outbox = new Outbox(dialect, () => new Promise<void>((r) => (stored = r)));
  const pending = outbox.confirmed({ type: "complete" });
  outbox.close();
  outbox.send({ type: "pong" });
  stored();
  await pending;
  assert.deepEqual(sent, []);
});

test("outbox - a write that throws fails what is queued behind it, and an output nobody awaits is no unhandled rejection", async () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (err: unknown) => unhandled.push(err);
  process.on("unhandledRejection", onUnhandled);
  try {
    const sent: string[] = [];
    const dialect = {
      send: (out: Output) => {
        if (out.type === "transcript") throw new Error("socket gone");
        sent.push(out.type);
      },
    } as unknown as Dialect;
    let stored!: () => void;
    const ready = new Promise<void>((r) => (stored = r));
    const outbox = new Outbox(dialect, () => Promise.resolve());
    void outbox.after(ready, { type: "transcript", text: "x", hasImage: false });
    outbox.send({ type: "partial", text: "behind it" });
    stored();
    await assert.rejects(outbox.idle(), /socket gone/);
    // Two turns of the event loop: an unhandled rejection is reported after the microtasks.
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(unhandled, []);
    assert.deepEqual(sent, [], "nothing queued behind the failed write is written");
  } finally {
    process.off("unhandledRejection", onUnhandled);
  }
});
