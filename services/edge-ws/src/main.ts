import { randomBytes } from "node:crypto";
import { connectNats, ensureEventStream, isConnected, startRuntime } from "@hotpin/runtime";
import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { Authenticator, issueToken } from "./auth";
import { readEdgeConfig } from "./config";
import { grpcDependencyCheck } from "./dependencies";
import { EventPublisher } from "./events";
import { Fleet } from "./fleet/fleet";
import { createEdgeMetrics } from "./metrics";
import { Apologies } from "./pipeline/apologies";
import { closeServices, connectServices } from "./pipeline/services";
import { EdgeServer } from "./server";
import { DeviceRegistry } from "./session/devices";
import type { Session } from "./session/session";

async function main(): Promise<void> {
  const cfg = readEdgeConfig();
  const rt = await startRuntime("edge", cfg);
  const { log, shutdown, health } = rt;
  const metrics = createEdgeMetrics(rt.registry);

  const services = connectServices({
    stt: cfg.sttAddress,
    llm: cfg.llmAddress,
    tts: cfg.ttsAddress,
    storage: cfg.storageAddress,
  });
  const checks = { stt: cfg.sttAddress, llm: cfg.llmAddress, tts: cfg.ttsAddress, storage: cfg.storageAddress };
  const closers: (() => void)[] = [];
  for (const [name, address] of Object.entries(checks)) {
    const dep = grpcDependencyCheck(address);
    health.addCheck(name, dep.check);
    closers.push(dep.close);
  }

  const events = new EventPublisher(cfg.instance, cfg.eventBuffer, log, metrics);
  const devices = new DeviceRegistry<Session>();
  const fleet = new Fleet(cfg, devices, log, metrics);
  let server: EdgeServer | undefined;
  let nc: NatsConnection | undefined;
  // Devices are served while NATS is away; events wait in the bounded buffer meanwhile.
  void connectNats({
    servers: cfg.natsServers,
    name: `edge@${cfg.instance}`,
    log,
    token: cfg.natsToken,
    registry: rt.registry,
  })
    .then(async (conn) => {
      nc = conn;
      await ensureEventStream(conn);
      events.attach(jetstream(conn));
      await fleet.attach(conn);
      server?.observers.attach(conn);
    })
    .catch((err) => log.error({ err }, "nats unavailable; events stay buffered"));
  health.addCheck("fleet", () => (nc && !fleet.images.ready ? "NATS KV buckets not open" : true));
  health.addCheck("nats", () =>
    nc && isConnected(nc) ? true : events.buffered < cfg.eventBuffer * 0.9 ? true : "disconnected, event buffer full",
  );

  // Signed tokens need a secret; without one configured, an ephemeral secret still gives a token
  // that works for this process's lifetime (development), never auth off.
  const secret = cfg.tokenSecret || (cfg.auth && cfg.deviceTokens.length === 0 ? randomBytes(24).toString("hex") : "");
  const auth = new Authenticator({ enabled: cfg.auth, staticTokens: cfg.deviceTokens, secret });
  if (!cfg.auth) log.warn("device authentication is OFF (HOTPIN_AUTH=off)");

  const apologies = new Apologies(services, log);
  apologies.warm();
  server = new EdgeServer({
    cfg,
    services,
    apologies,
    events,
    metrics,
    log,
    devices,
    fleet,
    auth,
  });
  if (nc) server.observers.attach(nc);
  const port = await server.listen(cfg.host, cfg.port);

  shutdown.add("devices", () => server.drain(cfg.drainTimeoutMs));
  shutdown.add("device ownership", () => fleet.drain());
  shutdown.add("events", () => events.flush(5_000));
  shutdown.add("nats", async () => {
    await nc?.drain();
  });
  shutdown.add("grpc clients", () => {
    apologies.stop();
    closeServices(services);
    for (const close of closers) close();
  });
  rt.started({ port, auth: cfg.auth });
  if (cfg.auth && secret && cfg.printToken) {
    // Printed on stdout for the operator starting the edge, not into the structured log.
    const token = issueToken(secret, cfg.demoDevice, cfg.tokenTtlSec);
    process.stdout.write(`\nDevice token for "${cfg.demoDevice}" (hotpin-edge-token issues more):\n  ${token}\n\n`);
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
