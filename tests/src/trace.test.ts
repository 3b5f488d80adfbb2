// First: telemetry must start before @grpc/grpc-js is loaded.
import "./support/telemetry-first";
import assert from "node:assert/strict";
import { test } from "node:test";
import { Metadata } from "@grpc/grpc-js";
import { events, storage } from "@hotpin/contracts";
import {
  createGrpcClient,
  deadlineIn,
  EVENT_STREAM,
  ensureEventStream,
  eventSubject,
  injectTrace,
  shutdownTelemetry,
} from "@hotpin/runtime";
import { startMesh, startOtlpCollector } from "@hotpin/test-support";
import { jetstream } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { SpanKind, trace } from "@opentelemetry/api";
import { exportSpansTo } from "./support/telemetry-first";

test("trace - one trace spans two processes across a NATS message and a gRPC call", async () => {
  await using collector = await startOtlpCollector();
  exportSpansTo(collector.endpoint);
  await using mesh = await startMesh({
    only: ["storage"],
    env: { OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint, OTEL_BSP_SCHEDULE_DELAY: "100" },
  });
  const nc = await connect({ servers: mesh.nats.url });
  // Publishers make sure the stream exists (as the edge does); storage may not have created it yet.
  await ensureEventStream(nc);
  const client = createGrpcClient(storage.StorageClient, mesh.address("storage"));
  const tracer = trace.getTracer("tests");
  let traceId = "";
  let rootSpanId = "";
  await tracer.startActiveSpan("test.utterance", { kind: SpanKind.PRODUCER }, async (span) => {
    traceId = span.spanContext().traceId;
    rootSpanId = span.spanContext().spanId;
    const event = events.Event.create({
      id: `trace-test-${Date.now()}`,
      deviceId: "trace-device",
      sessionId: "trace-session",
      time: new Date(),
      edgeInstance: "tests",
      payload: { $case: "connected", value: { dialect: "spec", remoteAddress: "127.0.0.1" } },
    });
    await jetstream(nc).publish(eventSubject(event.deviceId, "connected"), events.Event.encode(event).finish(), {
      msgID: event.id,
      headers: injectTrace(),
      expect: { streamName: EVENT_STREAM },
    });
    await new Promise<void>((resolve, reject) =>
      client.listSessions(
        { deviceId: "trace-device", limit: 1 },
        new Metadata(),
        { deadline: deadlineIn(5_000) },
        (err) => (err ? reject(err) : resolve()),
      ),
    );
    span.end();
  });
  client.close();
  await nc.close();
  await shutdownTelemetry(); // flushes this process's spans

  const spans = await collector.waitFor((all) => {
    const inTrace = all.filter((s) => s.traceId === traceId);
    return (
      inTrace.some((s) => s.service === "hotpin-storage" && s.kind === SpanKind.CONSUMER) &&
      inTrace.some((s) => s.service === "hotpin-storage" && s.kind === SpanKind.SERVER) &&
      inTrace.some((s) => s.service === "hotpin-tests")
    );
  });
  const inTrace = spans.filter((s) => s.traceId === traceId);
  const consumer = inTrace.find((s) => s.service === "hotpin-storage" && s.kind === SpanKind.CONSUMER);
  const server = inTrace.find((s) => s.service === "hotpin-storage" && s.kind === SpanKind.SERVER);
  const grpcClient = inTrace.find((s) => s.service === "hotpin-tests" && s.kind === SpanKind.CLIENT);
  assert.ok(consumer && server && grpcClient, "consumer, gRPC server and gRPC client spans are in the trace");
  // Across NATS: the storage consumer's span is a child of the span that published.
  assert.equal(consumer.parentSpanId, rootSpanId);
  // Across gRPC: the storage server span is a child of this process's client span.
  assert.equal(server.parentSpanId, grpcClient.spanId);
  assert.equal(new Set(inTrace.map((s) => s.service)).size, 2);
});
