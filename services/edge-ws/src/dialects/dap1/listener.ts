import { createServer, type Server, type Socket } from "node:net";
import { toWav } from "@hotpin/audio";
import { Dap1Error, Dap1Peer } from "@hotpin/dap1";
import type { Logger } from "@hotpin/runtime";
import type { EdgeConfig } from "../../config";
import type { EdgeMetrics } from "../../metrics";
import type { Apologies } from "../../pipeline/apologies";
import { Connection } from "../../session/connection";
import type { Session, SessionDeps } from "../../session/session";
import { TcpTransport } from "../../tcp-transport";
import { clientAddress, type Dap1Access } from "./access";
import { DAP1_MAX_REPLY_BYTES, errorTone } from "./dialect";
import { dap1 } from "./index";

export interface Dap1ListenerDeps {
  cfg: EdgeConfig;
  log: Logger;
  metrics: EdgeMetrics;
  apologies: Apologies;
  sessionDeps: SessionDeps;
  access: Dap1Access;
}

/** A handshake packet: 8-byte header and the 4-byte magic. */
const HANDSHAKE_BYTES = 12;

/**
 * The DAP1 TCP port: one exchange per connection, each its own session, so no client waits
 * for another (docs/protocols/dap1.md). Clients outside the allow-list are closed before the handshake;
 * beyond HOTPIN_EDGE_DAP1_MAX_EXCHANGES a client still completes its upload and hears "busy".
 */
export class Dap1Listener {
  private readonly server: Server;
  private readonly sockets = new Map<Socket, Session | undefined>();
  private exchanges = 0;
  private draining = false;

  constructor(private readonly deps: Dap1ListenerDeps) {
    this.server = createServer({ noDelay: true }, (socket) => this.connection(socket));
    this.server.maxConnections = deps.cfg.dap1MaxConnections;
  }

  get connections(): number {
    return this.sockets.size;
  }

  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, host, () => {
        this.server.off("error", reject);
        const addr = this.server.address();
        resolve(typeof addr === "object" && addr ? addr.port : port);
      });
    });
  }

  private refuse(socket: Socket, reason: string): void {
    this.deps.metrics.refused.inc({ reason });
    socket.destroy();
  }

  private connection(socket: Socket): void {
    const { cfg, log, metrics } = this.deps;
    socket.on("error", (err) => log.debug({ err: err.message }, "dap1 socket error"));
    const remote = clientAddress(socket.remoteAddress);
    if (!this.deps.access.allows(remote)) {
      log.info({ remote }, "dap1 client outside the allowed networks");
      this.refuse(socket, "dap1_not_allowed");
      return;
    }
    if (this.draining) {
      this.refuse(socket, "draining");
      return;
    }
    if (this.exchanges >= cfg.dap1MaxExchanges) {
      void this.busy(socket);
      return;
    }
    this.exchanges++;
    const transport = new TcpTransport(socket, remote);
    const connection = new Connection(this.deps.sessionDeps, {
      transport,
      grant: { kind: "any" },
      dialect: dap1,
      context: { deviceId: this.deps.access.deviceId(remote) },
      // A client that never shakes hands, or never sends audio after it, costs a socket only briefly.
      handshakeMs: cfg.dap1HandshakeTimeoutMs,
    });
    this.sockets.set(socket, connection.session);
    const idle = setTimeout(() => {
      if (socket.bytesRead > HANDSHAKE_BYTES) return;
      log.info({ remote }, "dap1 client sent no audio");
      metrics.protocolErrors.inc({ code: "idle_timeout" });
      socket.destroy();
    }, cfg.dap1HandshakeTimeoutMs + cfg.dap1IdleTimeoutMs);
    void transport.closed().then(() => {
      clearTimeout(idle);
      this.exchanges--;
      this.sockets.delete(socket);
    });
  }

  /** Over the exchange limit: take the upload as the client expects, answer "busy", close. */
  private async busy(socket: Socket): Promise<void> {
    const { cfg, log, metrics } = this.deps;
    metrics.refused.inc({ reason: "dap1_busy" });
    this.sockets.set(socket, undefined);
    socket.once("close", () => this.sockets.delete(socket));
    try {
      const peer = new Dap1Peer(socket);
      await peer.acceptHandshake(cfg.dap1HandshakeTimeoutMs);
      await peer.receive({ maxBytes: 2 * DAP1_MAX_REPLY_BYTES, chunkTimeoutMs: cfg.dap1TransferTimeoutMs });
      const pcm = (await this.deps.apologies.get("busy")) ?? errorTone();
      await peer.send(toWav(pcm), { ackTimeoutMs: cfg.dap1AckTimeoutMs, attempts: 5 });
      socket.end();
    } catch (err) {
      log.info({ fault: err instanceof Dap1Error ? err.fault : "error" }, "dap1 busy reply not delivered");
      socket.destroy();
    }
  }

  /** SIGTERM: no new clients; exchanges in flight finish (bounded), then every socket closes. */
  async drain(timeoutMs: number): Promise<void> {
    this.draining = true;
    this.server.close();
    const deadline = new Promise<void>((r) => setTimeout(r, timeoutMs).unref());
    await Promise.all(
      [...this.sockets].map(async ([socket, session]) => {
        if (session) await Promise.race([session.drain(), deadline]);
        socket.destroy();
      }),
    );
  }
}
