import assert from "node:assert/strict";
import { test } from "node:test";
import { charge, type Turn, Turns } from "./turns";

/** A stream whose queued audio came at `sentAt` (ms), of which `fedMs` has already been fed. */
function stream(name: string, sentAt: number, fedMs = 0): Turn & { name: string } {
  const s = { name, due: 0, queue: [{ sentAt }] };
  if (fedMs > 0) charge(s, fedMs * 16);
  return s;
}

test("stt turns - the stream whose audio is due first goes first, whatever the order they were added in", () => {
  const turns = new Turns<ReturnType<typeof stream>>();
  turns.add(stream("late", 1_000));
  turns.add(stream("early", 900));
  turns.add(stream("middle", 950));
  assert.deepEqual(
    [turns.next(), turns.next(), turns.next()].map((s) => s?.name),
    ["early", "middle", "late"],
  );
  assert.equal(turns.next(), undefined);
  assert.equal(turns.size, 0);
});

test("stt turns - audio sent faster than real time is due as if spoken, so a speaking stream comes first", () => {
  // A file sent at 1000 ms, 500 ms of it fed: its next audio is due at 1500 ms.
  const file = stream("file", 1_000, 500);
  // A device's chunk that came at 1400 ms.
  const device = stream("device", 1_400);
  const turns = new Turns<ReturnType<typeof stream>>();
  turns.add(file);
  turns.add(device);
  assert.equal(turns.next()?.name, "device");
  assert.equal(turns.next()?.name, "file");
});

test("stt turns - audio that comes after a silence is due from when it came, not from the audio before it", () => {
  // 1 s of audio fed from 0 ms, then nothing until a backlog came at 5000 ms.
  const resumed = stream("resumed", 0, 1_000);
  resumed.queue = [{ sentAt: 5_000 }];
  const device = stream("device", 4_990);
  const turns = new Turns<ReturnType<typeof stream>>();
  turns.add(resumed);
  turns.add(device);
  assert.equal(turns.next()?.name, "device");
  charge(resumed, 1_600);
  assert.equal(resumed.due, 5_100);
});
