import { connectNats, ensureEventStream, isConnected, startRuntime } from "@hotpin/runtime";
import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { issueToken } from "./auth";
import { readEdgeConfig } from "./config";
import { grpcDependencyCheck } from "./dependencies";
import { createEdge } from "./edge";
import { EventPublisher } from "./events";
import { attachUntilDone } from "./fleet/attach";
import { createEdgeMetrics } from "./metrics";
import { closeServices, connectServices } from "./pipeline/services";
import { sweepSpillDir } from "./session/recording-buffer";

async function main(): Promise<void> {
  const cfg = readEdgeConfig();
  const rt = await startRuntime("edge", cfg);
  const { log, shutdown, health } = rt;
  const metrics = createEdgeMetrics(rt.registry);
  const swept = await sweepSpillDir(cfg.spillDir);
  if (swept > 0) log.info({ files: swept }, "stale spill files removed");

  const services = connectServices({
    stt: cfg.sttAddress,
    llm: cfg.llmAddress,
    tts: cfg.ttsAddress,
    storage: cfg.storageAddress,
  });
  const checks = { stt: cfg.sttAddress, llm: cfg.llmAddress, tts: cfg.ttsAddress, storage: cfg.storageAddress };
  const closers: (() => void)[] = [];
  // Devices are served (with apologies) while a downstream is sick: its state is reported in
  // /readyz details and hotpin_edge_dependency_up, and never takes this replica out of service.
  for (const [name, address] of Object.entries(checks)) {
    const dep = grpcDependencyCheck(address);
    health.addDependency(name, dep.check);
    closers.push(dep.close);
  }
  const depTimer = setInterval(async () => {
    for (const [name, state] of Object.entries(await health.dependencyStates())) {
      metrics.dependencyUp.set({ dependency: name }, state === true ? 1 : 0);
    }
  }, 5_000).unref();

  const events = new EventPublisher(cfg.instance, cfg.eventBuffer, log, metrics);
  const edge = createEdge({ cfg, log, metrics, services, events });
  let nc: NatsConnection | undefined;
  let attached = false;
  // Devices are served while NATS is away; events wait in the bounded buffer meanwhile. Every
  // step that needs NATS is retried until it succeeds (a stream or bucket call may fail after
  // the connect, e.g. while JetStream elects a leader).
  void connectNats({
    servers: cfg.natsServers,
    name: `edge@${cfg.instance}`,
    log,
    token: cfg.natsToken,
    user: cfg.natsUser,
    pass: cfg.natsPassword,
    registry: rt.registry,
  })
    .then((conn) => {
      nc = conn;
      return attachUntilDone(log, [
        [
          "event stream",
          async () => {
            // Storage owns the stream's limits (HOTPIN_STORAGE_EVENTS_*); the edge only makes sure it exists.
            await ensureEventStream(conn, undefined, { keepExisting: true });
          },
        ],
        ["events", async () => events.attach(jetstream(conn))],
        ...edge.natsSteps(conn),
      ]);
    })
    .then(() => {
      attached = true;
    })
    .catch((err) => log.error({ err }, "nats unavailable; events stay buffered"));
  health.addDependency("fleet", () => attached || "NATS features not attached yet");
  health.addCheck("nats", () =>
    nc && isConnected(nc) ? true : events.buffered < cfg.eventBuffer * 0.9 ? true : "disconnected, event buffer full",
  );
  if (!cfg.auth) log.warn("device authentication is OFF (HOTPIN_AUTH=off)");

  const port = await edge.listen();

  shutdown.add("devices", () => edge.drain(cfg.drainTimeoutMs));
  shutdown.add("events", () => events.flush(5_000));
  shutdown.add("nats", async () => {
    await nc?.drain();
  });
  shutdown.add("grpc clients", () => {
    clearInterval(depTimer);
    closeServices(services);
    for (const close of closers) close();
  });
  rt.started({ port, auth: cfg.auth, ...(edge.dap1Port ? { dap1Port: edge.dap1Port } : {}) });
  // Printed on stdout for the operator starting the edge, never into the structured log; a token
  // of the real secret only when asked for (npm start prints its own).
  if (cfg.auth && edge.secret && (edge.ephemeral || cfg.printToken)) {
    const token = await issueToken(edge.secret, cfg.demoDevice, Math.min(cfg.tokenTtlSec, cfg.tokenMaxTtlSec));
    const note = edge.ephemeral ? "valid until this process exits; " : "";
    process.stdout.write(
      `\nDevice token for "${cfg.demoDevice}" (${note}hotpin-edge-token issues more):\n  ${token}\n\n`,
    );
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
