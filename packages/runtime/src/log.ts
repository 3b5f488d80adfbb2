import { trace } from "@opentelemetry/api";
import pino, { type Logger } from "pino";

export type { Logger } from "pino";

/**
 * Structured JSON logs. Messages are static text and values go into fields; anything that
 * may carry a secret or user speech is redacted by path as a second line of defence.
 */
export function createLogger(service: string, level = process.env.HOTPIN_LOG_LEVEL ?? "info"): Logger {
  return pino(
    {
      name: service,
      level,
      base: { service, pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: [
          "token",
          "*.token",
          "authorization",
          "*.authorization",
          "headers.authorization",
          "apiKey",
          "*.apiKey",
          "text",
          "*.text",
          "transcript",
          "*.transcript",
        ],
        censor: "[redacted]",
      },
      mixin() {
        const span = trace.getActiveSpan();
        if (!span) return {};
        const { traceId, spanId } = span.spanContext();
        return { trace_id: traceId, span_id: spanId };
      },
    },
    // Synchronous writes: pino's default asynchronous destination flushes at exit in a loop that
    // retries a broken pipe forever, so a process whose log reader had gone never exited.
    pino.destination({ fd: 1, sync: true }),
  );
}
