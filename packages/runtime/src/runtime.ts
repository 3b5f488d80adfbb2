import type { Server as HttpServer } from "node:http";
import { health as healthContract } from "@hotpin/contracts";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { bool, int, list, oneOf, port, secret, str } from "./config";
import { exitOnCrash } from "./crash";
import { bindGrpcServer, createGrpcServer, type GrpcLimits, type grpc, stopGrpcServer } from "./grpc";
import { Health } from "./health";
import { createLogger } from "./log";
import { createRegistry, registerHealthMetrics, serveMetrics } from "./metrics";
import { Shutdown } from "./shutdown";

/**
 * Settings every process has, named after the service (HOTPIN_STT_PORT, HOTPIN_STT_METRICS_PORT…)
 * so that one environment can configure the whole mesh without clashes.
 */
export function runtimeSettings(service: string, defaults: { port: number; metricsPort: number; host?: string }) {
  const p = `HOTPIN_${service.toUpperCase().replace(/[^A-Z0-9]/g, "_")}`;
  return {
    host: str(`${p}_HOST`, defaults.host ?? "127.0.0.1", "address the service and its metrics listen on"),
    port: port(`${p}_PORT`, defaults.port, "main port (gRPC, or HTTP/WebSocket for the edge)"),
    metricsPort: port(`${p}_METRICS_PORT`, defaults.metricsPort, "port serving /metrics, /livez and /readyz"),
    natsServers: list("HOTPIN_NATS_URL", "NATS servers, comma separated", ["nats://127.0.0.1:4222"]),
    natsToken: secret("HOTPIN_NATS_TOKEN", "NATS auth token, if the server wants one"),
    natsUser: str("HOTPIN_NATS_USER", "", "NATS user name, if the server has users (each service its own)"),
    natsPassword: secret("HOTPIN_NATS_PASSWORD", "password of HOTPIN_NATS_USER"),
    logLevel: oneOf("HOTPIN_LOG_LEVEL", ["trace", "debug", "info", "warn", "error"], "info", "log level"),
    shutdownDelayMs: int("HOTPIN_SHUTDOWN_DELAY_MS", 0, "wait after failing readiness before closing", { min: 0 }),
    shutdownStepTimeoutMs: int("HOTPIN_SHUTDOWN_STEP_TIMEOUT_MS", 30_000, "longest one shutdown step may take", {
      min: 100,
    }),
    shutdownDeadlineMs: int(
      "HOTPIN_SHUTDOWN_DEADLINE_MS",
      60_000,
      "longest the whole shutdown may take after SIGTERM; then the process kills itself",
      { min: 1_000 },
    ),
    stopOnStdinClose: bool(
      "HOTPIN_STOP_ON_STDIN_CLOSE",
      false,
      "shut down as on SIGTERM when standard input closes (the local launcher sets it: no process outlives it)",
    ),
  };
}

export type RuntimeConfig = {
  host: string;
  port: number;
  metricsPort: number;
  logLevel: string;
  shutdownDelayMs: number;
  shutdownStepTimeoutMs: number;
  shutdownDeadlineMs: number;
  stopOnStdinClose: boolean;
};

export interface Runtime {
  service: string;
  log: Logger;
  registry: Registry;
  health: Health;
  shutdown: Shutdown;
  metricsServer: HttpServer;
  /** Serves gRPC with health included; the server stops first on shutdown. Resolves the bound port. */
  serveGrpc(register: (server: grpc.Server) => void, limits?: GrpcLimits): Promise<number>;
  /** Start-up is done: install signal handlers and log readiness. */
  started(fields?: Record<string, unknown>): void;
}

/** Logger, metrics port, health and the shutdown sequence: what every main.ts starts with. */
export async function startRuntime(service: string, cfg: RuntimeConfig, grpcServices: string[] = []): Promise<Runtime> {
  const log = createLogger(service, cfg.logLevel);
  exitOnCrash(log);
  const registry = createRegistry(service);
  const health = new Health(grpcServices);
  const shutdown = new Shutdown(log, () => health.drain(), {
    drainDelayMs: cfg.shutdownDelayMs,
    stepTimeoutMs: cfg.shutdownStepTimeoutMs,
    deadlineMs: cfg.shutdownDeadlineMs,
    stopOnStdinClose: cfg.stopOnStdinClose,
  });
  // Not ready until start-up is done: checks may pass before the main port is bound.
  let startedUp = false;
  health.addCheck("startup", () => startedUp || "starting");
  registerHealthMetrics(registry, health);
  const metricsServer = await serveMetrics(registry, health, cfg.host, cfg.metricsPort);
  return {
    service,
    log,
    registry,
    health,
    shutdown,
    metricsServer,
    async serveGrpc(register, limits) {
      const server = createGrpcServer(limits);
      server.addService(
        healthContract.HealthService,
        health.grpcService() as unknown as grpc.UntypedServiceImplementation,
      );
      register(server);
      const bound = await bindGrpcServer(server, cfg.host, cfg.port);
      shutdown.add("grpc", () => stopGrpcServer(server, cfg.shutdownStepTimeoutMs - 1_000));
      log.info({ host: cfg.host, port: bound }, "grpc listening");
      return bound;
    },
    started(fields = {}) {
      startedUp = true;
      shutdown.add("metrics", () => new Promise<void>((resolve) => metricsServer.close(() => resolve())));
      shutdown.listen();
      log.info({ ...fields, metricsPort: cfg.metricsPort }, "started");
    },
  };
}
