import assert from "node:assert/strict";
import { test } from "node:test";
import { trace } from "@opentelemetry/api";
import { injectTrace } from "../nats";
import { shutdownTelemetry, startTelemetry } from "./sdk";

test("runtime - without an exporter, spans still carry trace context into NATS headers", async () => {
  delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
  delete process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  startTelemetry();
  try {
    const header = trace.getTracer("test").startActiveSpan("publish", (span) => {
      span.end();
      return injectTrace().get("traceparent");
    });
    assert.match(header, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    assert.doesNotMatch(header, /^00-0{32}/);
  } finally {
    await shutdownTelemetry();
  }
});
