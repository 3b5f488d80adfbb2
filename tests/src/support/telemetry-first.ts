// Imported first by tests that trace: starts the SDK before @grpc/grpc-js loads. Where spans go
// is decided later, once the test has started its collector, through `exportSpansTo`.

import { startTelemetry } from "@hotpin/runtime/telemetry";
import type { Context } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { type ReadableSpan, SimpleSpanProcessor, type Span, type SpanProcessor } from "@opentelemetry/sdk-trace-base";

/** Forwards to a processor chosen after start-up. */
class LateProcessor implements SpanProcessor {
  target: SpanProcessor | undefined;
  onStart(span: Span, ctx: Context) {
    this.target?.onStart(span, ctx);
  }
  onEnd(span: ReadableSpan) {
    this.target?.onEnd(span);
  }
  async forceFlush() {
    await this.target?.forceFlush();
  }
  async shutdown() {
    await this.target?.shutdown();
  }
}

const late = new LateProcessor();
process.env.OTEL_SERVICE_NAME ??= "hotpin-tests";
startTelemetry([late]);

/** Sends this process's spans to an OTLP/HTTP endpoint from now on. */
export function exportSpansTo(endpoint: string): void {
  late.target = new SimpleSpanProcessor(new OTLPTraceExporter({ url: `${endpoint}/v1/traces` }));
}
