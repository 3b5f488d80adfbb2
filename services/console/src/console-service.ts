import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { connectNats, isConnected, type Logger } from "@hotpin/runtime";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Registry } from "prom-client";
import { XiaozhiActivation } from "./activation/xiaozhi-activation";
import { DeviceCommands } from "./commands";
import type { ConsoleConfig } from "./config";
import { DeviceHistoryStore } from "./device-history";
import { Fleet } from "./fleet/fleet";
import { Api } from "./http/api";
import { edgeSocketUrl, securityHeaders } from "./http/edge-url";
import { StaticFiles } from "./http/static-files";
import { LatencyMonitor } from "./latency/latency-monitor";
import { createConsoleMetrics } from "./metrics";
import { OperatorAuth } from "./operator-auth";

export interface ConsoleService {
  port: number;
  nc: NatsConnection;
  /** Readiness: NATS connected (the fleet view and commands need it). */
  check(): true | string;
  /** Shutdown steps, in order: stop taking requests, stop watching, drain NATS. */
  closeHttp(timeoutMs: number): Promise<void>;
  stopWatching(): void;
  drainNats(): Promise<void>;
  closeStorage(): void;
}

/** The console's one composition root: used by main.ts (and so by the mesh and the browser tests). */
export async function startConsoleService(
  cfg: ConsoleConfig,
  log: Logger,
  registry: Registry,
): Promise<ConsoleService> {
  const metrics = createConsoleMetrics(registry);
  const nc = await connectNats({
    servers: cfg.natsServers,
    name: "console",
    log,
    ...(cfg.natsToken ? { token: cfg.natsToken } : {}),
    // Its own user where the server has users (deploy/k8s/components/console/auth.conf).
    ...(cfg.natsUser ? { user: cfg.natsUser, pass: cfg.natsPassword } : {}),
  });
  const commands = new DeviceCommands(nc, cfg.commandTimeoutMs);
  const fleet = new Fleet({
    maxDevices: cfg.maxDevices,
    timelineEvents: cfg.timelineEvents,
    getState: (id) => commands.state(id),
    log,
  });
  const history = new DeviceHistoryStore(cfg.storageAddress, cfg.storageTimeoutMs, cfg.thumbnailMaxBytes);
  const auth = new OperatorAuth({
    tokens: cfg.operatorTokens,
    sessionTtlMs: cfg.sessionTtlSec * 1000,
    maxSessions: cfg.maxSessions,
    failuresPerMinute: cfg.signInFailuresPerMinute,
  });
  // Assigned below; the monitor's first point comes from its first scrape, after start().
  let api: Api | undefined;
  const latency = new LatencyMonitor({
    urls: cfg.edgeMetricsUrls,
    intervalMs: cfg.scrapeIntervalMs,
    windowMs: cfg.latencyWindowMs,
    points: cfg.latencyPoints,
    log,
    onPoint: (point, unreachable) => api?.broadcast({ type: "latency", point, unreachable }),
  });
  // Watch events come in bursts (a bucket's first read): the page is told at most twice a second.
  let activationTimer: NodeJS.Timeout | undefined;
  const xiaozhi = new XiaozhiActivation({
    maxCodes: cfg.maxPendingCodes,
    maxBindings: cfg.maxBoundDevices,
    log,
    onChange: () => {
      activationTimer ??= setTimeout(() => {
        activationTimer = undefined;
        api?.broadcast({ type: "activation" });
      }, 500).unref();
    },
  });
  api = new Api({ cfg, auth, fleet, latency, history, commands: () => commands, xiaozhi, metrics, log });
  const liveApi = api;
  fleet.subscribe((m) => {
    if (m.type === "counts") metrics.devices.set(m.counts.connected);
    liveApi.broadcast(m);
  });
  await fleet.attach(nc);
  xiaozhi.attach(nc);
  latency.start();

  const files = new StaticFiles(cfg.webDir || join(__dirname, "web"));
  const server = createServer((req, res) => {
    const headers = securityHeaders(edgeSocketUrl(cfg.edgeWsUrl, cfg.edgePort, req.headers.host));
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
    const url = new URL(req.url ?? "/", "http://console");
    liveApi
      .handle(req, res, url)
      .then((handled) => {
        if (handled) return;
        if (req.method !== "GET" && req.method !== "HEAD") {
          res.writeHead(405, { allow: "GET" });
          res.end();
          return;
        }
        return files.serve(url.pathname, res);
      })
      .catch((err) => {
        log.error({ err }, "request failed");
        if (!res.headersSent) res.writeHead(500);
        res.end();
      });
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  const port = await listen(server, cfg.host, cfg.port);
  log.info({ host: cfg.host, port }, "console listening");

  return {
    port,
    nc,
    check: () => (isConnected(nc) ? true : "nats not connected"),
    async closeHttp(timeoutMs) {
      liveApi.closeLive();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), timeoutMs);
      await closed;
      clearTimeout(timer);
    },
    stopWatching() {
      latency.stop();
      fleet.stop();
      xiaozhi.stop();
      clearTimeout(activationTimer);
    },
    drainNats: () => nc.drain(),
    closeStorage: () => history.close(),
  };
}

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      const a = server.address();
      resolve(typeof a === "object" && a ? a.port : port);
    });
  });
}
