import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { connectNats, createLogger, createRegistry } from "@hotpin/runtime";
import { startNats, type TestNats } from "@hotpin/test-support";
import type { NatsConnection } from "@nats-io/transport-node";
import { createEdgeMetrics } from "../metrics";
import { DeviceOwnership, OWNER_BUCKET } from "./ownership";

/**
 * What a claim costs in NATS round trips, seen by a second connection that hears every
 * JetStream API request and every KV write of the owner bucket.
 */
let nats: TestNats;
let nc: NatsConnection;
let spy: NatsConnection;
const log = createLogger("ownership-test", "silent");

before(async () => {
  nats = await startNats();
  nc = await connectNats({ servers: nats.url, name: "ownership-test", log });
  spy = await connectNats({ servers: nats.url, name: "ownership-spy", log });
});
after(async () => {
  await nc?.close();
  await spy?.close();
  await nats?.[Symbol.asyncDispose]();
});

/** Subjects of the KV reads and writes made while `during` runs. */
async function kvTraffic(during: () => Promise<void>): Promise<{ reads: number; writes: number }> {
  const subjects: string[] = [];
  const subs = [`$JS.API.>`, `$KV.${OWNER_BUCKET}.>`].map((s) =>
    spy.subscribe(s, {
      callback: (_err, msg) => {
        subjects.push(msg.subject);
      },
    }),
  );
  await spy.flush();
  await during();
  await nc.flush();
  await spy.flush();
  for (const s of subs) s.unsubscribe();
  return {
    reads: subjects.filter((s) => s.includes(".GET.")).length,
    writes: subjects.filter((s) => s.startsWith(`$KV.${OWNER_BUCKET}.`)).length,
  };
}

function ownership(instance: string, lost: string[] = []): DeviceOwnership {
  const metrics = createEdgeMetrics(createRegistry(instance));
  return new DeviceOwnership(instance, 30_000, log, metrics, (deviceId) => lost.push(deviceId));
}

test("ownership - a device nobody holds is claimed with one write and no read", async () => {
  const mine = ownership("edge-a");
  await mine.attach(nc);
  try {
    const traffic = await kvTraffic(() => mine.claim("fresh-device", "session-1"));
    assert.deepEqual(traffic, { reads: 0, writes: 1 });
    assert.equal((await mine.owner("fresh-device"))?.sessionId, "session-1");
  } finally {
    mine.stop();
  }
});

test("ownership - a device held elsewhere is read and taken over; the other replica loses it", async () => {
  const lostOnA: string[] = [];
  const a = ownership("edge-a", lostOnA);
  const b = ownership("edge-b");
  await a.attach(nc);
  await b.attach(nc);
  try {
    await a.claim("roaming-device", "session-a");
    const traffic = await kvTraffic(() => b.claim("roaming-device", "session-b"));
    assert.equal(traffic.reads, 1);
    assert.equal((await b.owner("roaming-device"))?.instance, "edge-b");
    for (let i = 0; i < 200 && lostOnA.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(lostOnA, ["roaming-device"]);
  } finally {
    a.stop();
    b.stop();
  }
});

test("ownership - a device reconnecting to the replica that holds it is taken over with one write", async () => {
  const mine = ownership("edge-a");
  await mine.attach(nc);
  try {
    await mine.claim("flaky-device", "session-1");
    const traffic = await kvTraffic(() => mine.claim("flaky-device", "session-2"));
    assert.deepEqual(traffic, { reads: 0, writes: 1 });
    assert.equal((await mine.owner("flaky-device"))?.sessionId, "session-2");
  } finally {
    mine.stop();
  }
});

test("ownership - a device released before is claimed again (its delete marker is no owner)", async () => {
  const mine = ownership("edge-a");
  await mine.attach(nc);
  try {
    await mine.claim("returning-device", "session-1");
    await mine.release("returning-device", "session-1");
    assert.equal(await mine.owner("returning-device"), undefined);
    await mine.claim("returning-device", "session-2");
    assert.equal((await mine.owner("returning-device"))?.sessionId, "session-2");
  } finally {
    mine.stop();
  }
});
