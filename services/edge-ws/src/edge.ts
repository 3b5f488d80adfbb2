import { randomBytes } from "node:crypto";
import type { Logger } from "@hotpin/runtime";
import type { NatsConnection } from "@nats-io/transport-node";
import { Authenticator, checkCredentials } from "./auth";
import type { EdgeConfig } from "./config";
import { Dap1Access } from "./dialects/dap1/access";
import { Dap1Listener } from "./dialects/dap1/listener";
import { webSocketDialects } from "./dialects/registry";
import { xiaozhiRoute } from "./dialects/xiaozhi";
import type { EventSink } from "./events";
import { Fleet } from "./fleet/fleet";
import { TokenRevocations } from "./fleet/revocations";
import type { EdgeMetrics } from "./metrics";
import { Apologies } from "./pipeline/apologies";
import type { Services } from "./pipeline/services";
import { EdgeServer } from "./server";
import { DeviceRegistry } from "./session/devices";
import type { Session } from "./session/session";
import { XiaozhiOta } from "./xiaozhi-ota/ota-handler";

export interface EdgeParts {
  cfg: EdgeConfig;
  log: Logger;
  metrics: EdgeMetrics;
  services: Services;
  events: EventSink;
}

/**
 * The edge's one composition root, used by main.ts, the tests and the benchmarks: devices,
 * fleet, auth, apologies, the WebSocket server (with xiaozhi's OTA and activation) and (when
 * configured) the DAP1 listener.
 * Devices are served before NATS is attached; `attach` adds the fleet features.
 */
export function createEdge({ cfg, log, metrics, services, events }: EdgeParts) {
  checkCredentials(cfg);
  const dap1Access = Dap1Access.fromConfig(cfg);
  const devices = new DeviceRegistry<Session>();
  const fleet = new Fleet(cfg, devices, log, metrics);
  const revocations = new TokenRevocations(cfg.tokenMaxTtlSec, log);
  // Device tokens need a secret; without one configured, an ephemeral secret still gives a token
  // that works for this process's lifetime (development), never auth off.
  const ephemeral = !cfg.tokenSecret && cfg.auth && cfg.deviceTokens.length === 0;
  const secret = cfg.tokenSecret || (ephemeral ? randomBytes(32).toString("base64url") : "");
  const auth = new Authenticator({
    enabled: cfg.auth,
    staticTokens: cfg.deviceTokens,
    secret,
    previousSecrets: cfg.tokenPreviousSecrets,
    maxTtlSec: cfg.tokenMaxTtlSec,
    revoked: (id) => revocations.has(id),
  });
  const apologies = new Apologies(services, log);
  const sessionDeps = { cfg, services, apologies, events, metrics, log, devices, images: fleet.images };
  const xiaozhiOta = new XiaozhiOta({ cfg, log, metrics, secret });
  const server = new EdgeServer({
    ...sessionDeps,
    fleet,
    auth,
    dialects: webSocketDialects,
    headerRoutes: [xiaozhiRoute],
    httpHandlers: [xiaozhiOta],
  });
  const dap1 =
    cfg.dap1Port > 0 ? new Dap1Listener({ cfg, log, metrics, apologies, sessionDeps, access: dap1Access }) : undefined;
  let dap1Port: number | undefined;

  return {
    server,
    devices,
    fleet,
    revocations,
    apologies,
    /** The token secret in use, and whether it was made up for this process. */
    secret,
    ephemeral,
    /** The DAP1 port, once listening (undefined when DAP1 is off). */
    get dap1Port() {
      return dap1Port;
    },
    /** Binds the device ports; resolves with the WebSocket port. */
    async listen(): Promise<number> {
      apologies.warm();
      const port = await server.listen(cfg.host, cfg.port);
      if (dap1) {
        dap1Port = await dap1.listen(cfg.host, cfg.dap1Port);
        log.info({ port: dap1Port }, "dap1 listening");
      }
      return port;
    },
    /** The NATS steps, each retried by the caller until it succeeds. */
    natsSteps(nc: NatsConnection): [string, () => Promise<void>][] {
      return [
        ["fleet", () => fleet.attach(nc)],
        ["revocations", () => revocations.attach(nc)],
        ["observers", async () => server.observers.attach(nc)],
        ["xiaozhi activation", () => xiaozhiOta.attach(nc)],
      ];
    },
    /** SIGTERM: devices first (both listeners drain in parallel), then ownership. */
    async drain(timeoutMs: number): Promise<void> {
      await Promise.all([server.drain(timeoutMs), dap1?.drain(timeoutMs)]);
      await fleet.drain();
      revocations.stop();
      apologies.stop();
    },
  };
}

export type Edge = ReturnType<typeof createEdge>;
