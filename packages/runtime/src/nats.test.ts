import assert from "node:assert/strict";
import { test } from "node:test";
import { headers } from "@nats-io/transport-node";
import { context, propagation, TraceFlags, trace } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { extractTrace, injectTrace } from "./nats";

propagation.setGlobalPropagator(new W3CTraceContextPropagator());

test("runtime - trace context survives a trip through NATS headers", () => {
  const parent = trace.setSpanContext(context.active(), {
    traceId: "0af7651916cd43dd8448eb211c80319c",
    spanId: "b7ad6b7169203331",
    traceFlags: TraceFlags.SAMPLED,
  });
  const h = injectTrace(headers(), parent);
  assert.equal(h.get("traceparent"), "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
  const extracted = trace.getSpanContext(extractTrace(h));
  assert.equal(extracted?.traceId, "0af7651916cd43dd8448eb211c80319c");
  assert.equal(extracted?.spanId, "b7ad6b7169203331");
  assert.equal(extracted?.isRemote, true);
});

test("runtime - a message without trace headers starts no remote parent", () => {
  assert.equal(trace.getSpanContext(extractTrace(headers())), undefined);
  assert.equal(trace.getSpanContext(extractTrace(undefined)), undefined);
});
