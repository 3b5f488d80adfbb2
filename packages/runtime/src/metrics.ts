import { createServer, type Server } from "node:http";
import { collectDefaultMetrics, Gauge, Registry } from "prom-client";
import type { Health } from "./health";

/** A registry of this process only, with process metrics under the service's prefix. */
export function createRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry, prefix: "hotpin_" });
  return registry;
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
      registry.metrics().then(
        (body) => res.writeHead(200, { "content-type": registry.contentType }).end(body),
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
