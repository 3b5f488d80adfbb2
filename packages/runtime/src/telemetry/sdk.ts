import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { GrpcInstrumentation } from "@opentelemetry/instrumentation-grpc";
import { HttpInstrumentation } from "@opentelemetry/instrumentation-http";
import { NodeSDK } from "@opentelemetry/sdk-node";
import { BatchSpanProcessor, NoopSpanProcessor, type SpanProcessor } from "@opentelemetry/sdk-trace-base";

const KEY = Symbol.for("hotpin.telemetry.sdk");
type Holder = { [KEY]?: NodeSDK };

/** Paths that are polled, not worth a span each. */
const QUIET_PATHS = new Set(["/metrics", "/livez", "/readyz"]);

/** Query parameters whose values are credentials (device tokens, the Sesame client's id_token, keys). */
export const CREDENTIAL_QUERY_PARAMS = [
  "token",
  "id_token",
  "access_token",
  "api_key",
  "apikey",
  "key",
  "secret",
  "password",
  "sig",
  "Signature",
  "AWSAccessKeyId",
  "X-Goog-Signature",
];

/** Path segments that are credentials themselves: the edge's `/download/<token>`. */
export function redactPath(path: string): string {
  return path.replace(/^\/download\/[^/?#]+/, "/download/REDACTED");
}

/**
 * Starts tracing before application code loads, so that @grpc/grpc-js and http are patched.
 * Configured only by the standard OTEL_* variables: spans are exported over OTLP/HTTP when
 * OTEL_EXPORTER_OTLP_ENDPOINT (or the traces-specific variable) is set; otherwise spans are
 * still created, so trace context propagates, but go nowhere.
 */
export function startTelemetry(extraProcessors: SpanProcessor[] = []): NodeSDK {
  const holder = globalThis as Holder;
  const running = holder[KEY];
  if (running) return running;
  // Metrics are prom-client's and logs are pino's; keep the SDK from exporting either.
  process.env.OTEL_METRICS_EXPORTER ??= "none";
  process.env.OTEL_LOGS_EXPORTER ??= "none";
  const endpoint = process.env.OTEL_EXPORTER_OTLP_ENDPOINT || process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  const spanProcessors = [...extraProcessors];
  if (endpoint) spanProcessors.push(new BatchSpanProcessor(new OTLPTraceExporter()));
  // With no processor at all the SDK registers no tracer provider: span contexts would be
  // empty and no traceparent would reach NATS or gRPC. Keep a provider that exports nothing.
  if (spanProcessors.length === 0) spanProcessors.push(new NoopSpanProcessor());
  const sdk = new NodeSDK({
    serviceName: process.env.OTEL_SERVICE_NAME ?? process.env.HOTPIN_SERVICE ?? "hotpin",
    spanProcessors,
    instrumentations: [
      new GrpcInstrumentation({ ignoreGrpcMethods: ["Check", "Watch"] }),
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (req) => QUIET_PATHS.has((req.url ?? "").split("?")[0] ?? ""),
        // Tokens travel in queries (`?token=`) and paths (`/download/<token>`): neither reaches a span.
        redactedQueryParams: CREDENTIAL_QUERY_PARAMS,
        redactedQueryParamsServer: CREDENTIAL_QUERY_PARAMS,
        startIncomingSpanHook: (req) => ({
          "url.path": redactPath(((req as { url?: string }).url ?? "/").split("?")[0] ?? "/"),
        }),
      }),
    ],
  });
  sdk.start();
  holder[KEY] = sdk;
  return sdk;
}

/** Flushes spans still buffered; part of every shutdown. */
export async function shutdownTelemetry(): Promise<void> {
  const holder = globalThis as Holder;
  const sdk = holder[KEY];
  holder[KEY] = undefined;
  await sdk?.shutdown();
}
