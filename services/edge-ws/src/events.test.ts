import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { events } from "@hotpin/contracts";
import {
  createLogger,
  createRegistry,
  EVENT_STREAM,
  ensureEventStream,
  shutdownTelemetry,
  startTelemetry,
  subjectToken,
  tracer,
} from "@hotpin/runtime";
import { startNats, type TestNats } from "@hotpin/test-support";
import {
  AckPolicy,
  type ConsumerInfo,
  DeliverPolicy,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
} from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import type { SpanProcessor } from "@opentelemetry/sdk-trace-base";
import { EventPublisher } from "./events";
import { createEdgeMetrics } from "./metrics";

/**
 * The edge's EventPublisher against a real NATS server with JetStream: what lands in the
 * stream, that a device never waits for NATS, a NATS restart, and the bounded buffer.
 */

const log = createLogger("edge-events-test", "silent");

interface Stored {
  subject: string;
  msgId: string;
  traceparent: string;
  event: events.Event;
}

const keepNothing: SpanProcessor = {
  onStart: () => undefined,
  onEnd: () => undefined,
  forceFlush: async () => undefined,
  shutdown: async () => undefined,
};

let nats: TestNats;
let nc: NatsConnection;

before(async () => {
  // As the edge runs with tracing on: the W3C propagator, the async context manager, recording
  // spans (a processor that keeps nothing stands in for the OTLP exporter).
  startTelemetry([keepNothing]);
  nats = await startNats();
  nc = await connect({
    servers: nats.url,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 200,
    waitOnFirstConnect: true,
  });
  await ensureEventStream(nc);
});

after(async () => {
  await nc?.close();
  await nats?.[Symbol.asyncDispose]();
  await shutdownTelemetry();
});

function publisher(capacity: number, instance: string) {
  const registry = createRegistry("edge");
  const metrics = createEdgeMetrics(registry);
  const pub = new EventPublisher(instance, capacity, log, metrics);
  const counter = async (name: string) => {
    const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
    return (m?.values[0]?.value as number | undefined) ?? 0;
  };
  return { pub, metrics, counter };
}

/**
 * Reads the stream's messages for `device` (subject filter) until `count` have arrived or
 * `timeoutMs` passes, plus one more fetch round so that an extra (duplicate) message shows.
 */
async function readDevice(device: string, count: number, timeoutMs = 30_000): Promise<Stored[]> {
  const config = {
    filter_subject: `hotpin.events.${device}.>`,
    ack_policy: AckPolicy.None,
    deliver_policy: DeliverPolicy.All,
    inactive_threshold: 30_000_000_000,
  };
  // Right after a NATS restart the client may still be reconnecting: retry, bounded.
  let jsm: JetStreamManager | undefined;
  let info: ConsumerInfo | undefined;
  for (let attempt = 0; !jsm || !info; attempt++) {
    try {
      jsm = await jetstreamManager(nc);
      info = await jsm.consumers.add(EVENT_STREAM, config);
    } catch (err) {
      if (attempt >= 50) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  const consumer = await jetstream(nc).consumers.get(EVENT_STREAM, info.name);
  const out: Stored[] = [];
  const deadline = Date.now() + timeoutMs;
  let extraRounds = 1;
  for (let round = 0; round < 1_000 && Date.now() < deadline; round++) {
    const reached = out.length >= count;
    const batch = await consumer.fetch({ max_messages: 500, expires: 1_000 });
    for await (const m of batch) {
      out.push({
        subject: m.subject,
        msgId: m.headers?.get("Nats-Msg-Id") ?? "",
        traceparent: m.headers?.get("traceparent") ?? "",
        event: events.Event.decode(m.data),
      });
    }
    if (reached && extraRounds-- <= 0) break;
  }
  await jsm.consumers.delete(EVENT_STREAM, info.name);
  return out;
}

function utteranceOf(e: events.Event): number {
  return e.payload?.$case === "recordingStarted" ? e.payload.value.utterance : -1;
}

test("events - land in HOTPIN_EVENTS as events.Event, Nats-Msg-Id = event id, with the publisher's traceparent", async () => {
  const { pub, counter } = publisher(100, "edge-a");
  pub.attach(jetstream(nc));
  let traceId = "";
  tracer().startActiveSpan("edge.utterance", (span) => {
    traceId = span.spanContext().traceId;
    pub.publish("pin.one", "session-1", { $case: "recordingStarted", value: { utterance: 1 } });
    span.end();
  });
  pub.publish("pin.one", "session-1", {
    $case: "recordingStopped",
    value: { utterance: 1, chunks: 4, bytes: 16_384, durationMs: 512 },
  });

  // "." cannot be in a subject token: the id is hashed into one that is short and distinct.
  const token = subjectToken("pin.one");
  assert.match(token, /^=[A-Za-z0-9_-]{22}$/);
  const stored = await readDevice(token, 2);
  assert.equal(stored.length, 2);
  const [first, second] = stored as [Stored, Stored];
  assert.equal(first.subject, `hotpin.events.${token}.recordingStarted`);
  assert.equal(second.subject, `hotpin.events.${token}.recordingStopped`);
  for (const s of stored) {
    assert.equal(s.msgId, s.event.id, "Nats-Msg-Id is the event id");
    assert.equal(s.event.deviceId, "pin.one");
    assert.equal(s.event.sessionId, "session-1");
    assert.equal(s.event.edgeInstance, "edge-a");
    assert.ok(s.event.time instanceof Date);
  }
  assert.match(first.traceparent, new RegExp(`^00-${traceId}-[0-9a-f]{16}-0[01]$`));
  assert.deepEqual(first.event.payload, { $case: "recordingStarted", value: { utterance: 1 } });
  assert.deepEqual(second.event.payload, {
    $case: "recordingStopped",
    value: { utterance: 1, chunks: 4, bytes: 16_384, durationMs: 512 },
  });
  assert.notEqual(first.event.id, second.event.id);
  assert.equal(await counter("hotpin_edge_events_published_total"), 2);
  await pub.flush(5_000);
});

test("events - publishing returns at once and never throws, before NATS is attached", async () => {
  const { pub, counter } = publisher(1_000, "edge-b");
  // No JetStream yet: every call must still return synchronously with the event queued.
  for (let i = 1; i <= 200; i++) {
    const returned: unknown = pub.publish("pin-sync", "s", { $case: "recordingStarted", value: { utterance: i } });
    assert.equal(returned, undefined, "publish is fire-and-forget, not a promise");
    assert.equal(pub.buffered, i);
  }
  assert.equal(await counter("hotpin_edge_events_buffered"), 200);
  pub.attach(jetstream(nc));
  const stored = await readDevice("pin-sync", 200);
  assert.deepEqual(
    stored.map((s) => utteranceOf(s.event)),
    Array.from({ length: 200 }, (_, i) => i + 1),
    "all queued events arrive, in order",
  );
  await pub.flush(5_000);
});

test("events - published while NATS is stopped: buffered, then all arrive after it restarts, none duplicated", async () => {
  const { pub, counter } = publisher(1_000, "edge-c");
  pub.attach(jetstream(nc));
  const ids = new Set<string>();
  const capture = (utterance: number) => {
    pub.publish("pin-restart", "s", { $case: "recordingStarted", value: { utterance } });
  };
  for (let i = 1; i <= 5; i++) capture(i);
  const before = await readDevice("pin-restart", 5);
  assert.equal(before.length, 5);

  await nats.stop();
  for (let i = 6; i <= 105; i++) {
    const returned: unknown = pub.publish("pin-restart", "s", { $case: "recordingStarted", value: { utterance: i } });
    assert.equal(returned, undefined);
  }
  assert.ok(pub.buffered >= 100, `events wait in the buffer while NATS is down (buffered ${pub.buffered})`);
  await nats.start();

  const stored = await readDevice("pin-restart", 105, 60_000);
  for (const s of stored) ids.add(s.event.id);
  assert.equal(stored.length, 105, "every event arrives exactly once");
  assert.equal(ids.size, 105, "no event id twice");
  assert.deepEqual(
    stored.map((s) => utteranceOf(s.event)),
    Array.from({ length: 105 }, (_, i) => i + 1),
    "in the order published",
  );
  assert.equal(pub.buffered, 0);
  assert.equal(await counter("hotpin_edge_events_dropped_total"), 0);
  await pub.flush(5_000);
});

test("events - a full buffer drops the oldest events and counts them in hotpin_edge_events_dropped_total", async () => {
  const { pub, counter } = publisher(3, "edge-d");
  for (let i = 1; i <= 5; i++) pub.publish("pin-full", "s", { $case: "recordingStarted", value: { utterance: i } });
  assert.equal(pub.buffered, 3, "the buffer holds its capacity, no more");
  assert.equal(await counter("hotpin_edge_events_dropped_total"), 2);
  pub.attach(jetstream(nc));
  const stored = await readDevice("pin-full", 3);
  assert.deepEqual(
    stored.map((s) => utteranceOf(s.event)),
    [3, 4, 5],
    "the two oldest were dropped, the newest kept",
  );
  assert.equal(await counter("hotpin_edge_events_published_total"), 3);
  await pub.flush(5_000);
});

test("events - confirm resolves once the events published before it are in the stream; unattached it gives up after its timeout", async () => {
  const { pub } = publisher(100, "edge-e");
  pub.publish("pin-confirm", "s", { $case: "recordingStarted", value: { utterance: 1 } });
  assert.equal(await pub.confirm(200), false, "no JetStream yet: the bounded wait ends unconfirmed");
  assert.equal(pub.buffered, 1, "the event stays queued");
  pub.attach(jetstream(nc));
  pub.publish("pin-confirm", "s", { $case: "recordingStarted", value: { utterance: 2 } });
  assert.equal(await pub.confirm(10_000), true);
  assert.equal(pub.buffered, 0);
  // Already in the stream when confirm resolved: read without waiting for more.
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(EVENT_STREAM, { subjects_filter: "hotpin.events.pin-confirm.>" });
  assert.equal(info.state.subjects?.["hotpin.events.pin-confirm.recordingStarted"], 2);
  assert.equal(await pub.confirm(0), true, "nothing new: confirmed at once");
  await pub.flush(5_000);
});
