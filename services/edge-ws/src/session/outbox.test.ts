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
