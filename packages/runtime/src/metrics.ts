import { createServer, type Server } from "node:http";
import { isSpanContextValid, type Span } from "@opentelemetry/api";
import { collectDefaultMetrics, Gauge, type Histogram, Registry } from "prom-client";
import type { Health } from "./health";

/**
 * A registry of this process only, with process metrics under the service's prefix. It is an
 * OpenMetrics registry because prom-client accepts histograms with exemplars (trace ids) only
 * there; read it with metricsText, which serves each scraper the format it asks for.
 */
export function createRegistry(service: string): Registry {
  const registry = new Registry();
  // prom-client's typings bind a registry's format to a type parameter that every service's
  // `Registry` would then have to carry; the format is a runtime property all the same.
  registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE as unknown as typeof Registry.PROMETHEUS_CONTENT_TYPE);
  registry.setDefaultLabels({ service });
  defaultLabels.set(registry, { service });
  collectDefaultMetrics({ register: registry, prefix: "hotpin_" });
  return registry;
}

const defaultLabels = new WeakMap<Registry, Record<string, string>>();

/** Whether an HTTP Accept header asks for OpenMetrics (Prometheus does; curl and most parsers do not). */
export function acceptsOpenMetrics(accept: string | undefined): boolean {
  return /application\/openmetrics-text/i.test(accept ?? "");
}

/**
 * The registry's metrics as OpenMetrics (with exemplars) or as the Prometheus text format. Each
 * metric is rendered through a throw-away view of it in a registry of the wanted type, because
 * prom-client's OpenMetrics output renames counters in place (it strips `_total` from the
 * metric's name), which would change the name every other reader of the metric sees.
 */
export async function metricsText(
  registry: Registry,
  openMetrics: boolean,
): Promise<{ contentType: string; body: string }> {
  const contentType = openMetrics ? Registry.OPENMETRICS_CONTENT_TYPE : Registry.PROMETHEUS_CONTENT_TYPE;
  const view = new Registry();
  view.setContentType(contentType as typeof Registry.PROMETHEUS_CONTENT_TYPE);
  view.setDefaultLabels(defaultLabels.get(registry) ?? {});
  for (const metric of registry.getMetricsAsArray()) view.registerMetric(Object.create(metric));
  return { contentType, body: await view.metrics() };
}

/**
 * Health as metrics, read at scrape time: each readiness check (1 passing, 0 failing), whether
 * the process is ready, and whether it is draining after SIGTERM. Alerts and dashboards use these.
 */
export function registerHealthMetrics(registry: Registry, health: Health): void {
  const registers = [registry];
  new Gauge({
    name: "hotpin_health_check_up",
    help: "Readiness checks by name: 1 passing, 0 failing",
    labelNames: ["check"],
    registers,
    async collect() {
      for (const [check, ok] of await health.results()) this.set({ check }, ok ? 1 : 0);
    },
  });
  new Gauge({
    name: "hotpin_ready",
    help: "1 while every readiness check passes and the process is not draining",
    registers,
    async collect() {
      this.set((await health.report()).serving ? 1 : 0);
    },
  });
  new Gauge({
    name: "hotpin_draining",
    help: "1 once shutdown began (readiness failed for good, work in flight finishing)",
    registers,
    collect() {
      this.set(health.isDraining ? 1 : 0);
    },
  });
}

/**
 * Observes a histogram created with `enableExemplars`, with the span's trace as the exemplar
 * when tracing is on, so that a slow point on a dashboard links to its trace.
 */
export function observeTraced<T extends string>(
  histogram: Histogram<T>,
  labels: Partial<Record<T, string | number>>,
  value: number,
  span: Span,
): void {
  const ctx = span.spanContext();
  const exemplar = isSpanContextValid(ctx) ? { trace_id: ctx.traceId, span_id: ctx.spanId } : {};
  // prom-client types exemplar labels as the metric's own label names; they are free-form.
  histogram.observe({ labels, value, exemplarLabels: exemplar as Partial<Record<T, string>> });
}

/** Standard histogram buckets for latencies in seconds, 5 ms to 60 s. */
export const latencyBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/**
 * The process's own HTTP port: /metrics for Prometheus, /livez (the event loop answers) and
 * /readyz (every dependency check passes; 503 with the reasons otherwise).
 */
export function serveMetrics(registry: Registry, health: Health, host: string, port: number): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path === "/metrics") {
      metricsText(registry, acceptsOpenMetrics(req.headers.accept)).then(
        ({ contentType, body }) => res.writeHead(200, { "content-type": contentType }).end(body),
        (err: Error) => res.writeHead(500).end(err.message),
      );
    } else if (path === "/livez") {
      res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
    } else if (path === "/readyz") {
      health
        .report()
        .then((r) =>
          res.writeHead(r.serving ? 200 : 503, { "content-type": "application/json" }).end(`${JSON.stringify(r)}\n`),
        );
    } else {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve, reject) => {
    server.once("error", (err) => reject(new Error(`cannot serve metrics on ${host}:${port}: ${err.message}`)));
    server.listen(port, host, () => resolve(server));
  });
}
