import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { events } from "@hotpin/contracts";
import { EVENT_SUBJECTS, isValidDeviceId, type Logger, secretsEqual } from "@hotpin/runtime";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { type WebSocket, WebSocketServer } from "ws";
import { type Authenticator, tokenFingerprint, tokenFromRequest } from "../auth";
import type { EdgeConfig } from "../config";
import type { EdgeMetrics } from "../metrics";
import { observerMessage } from "./observer-format";

export type Refuse = (socket: Duplex, status: number, reason: string) => void;

interface Observer {
  ws: WebSocket;
  /** Devices this client sees; undefined: all. */
  devices: Set<string> | undefined;
  /** Fingerprint of the token it came with (per-token cap). */
  token: string;
  /** Answered the last ping. */
  alive: boolean;
}

/** Close code for a client that reads too slowly (1013: try again later). */
const TOO_SLOW = 1013;

/**
 * GET /events (WebSocket): every device's events, from NATS, so a client on any replica sees
 * every device. One NATS subscription per replica while at least one client is connected.
 * Token-protected: an observer token (HOTPIN_EDGE_OBSERVER_TOKENS) sees every device, a signed
 * device token only its own device; static device tokens do not admit observers. `?device=`
 * (repeatable or comma separated) filters. Incoming frames are ignored.
 */
export class ObserverServer {
  private readonly wss: WebSocketServer;
  private readonly clients = new Set<Observer>();
  private nc: NatsConnection | undefined;
  private sub: Subscription | undefined;
  private draining = false;

  constructor(
    private readonly cfg: EdgeConfig,
    private readonly auth: Authenticator,
    private readonly log: Logger,
    private readonly metrics: EdgeMetrics,
  ) {
    this.wss = new WebSocketServer({ noServer: true, maxPayload: 4096, perMessageDeflate: false });
  }

  attach(nc: NatsConnection): void {
    this.nc = nc;
    if (this.clients.size > 0) this.subscribe();
  }

  get size(): number {
    return this.clients.size;
  }

  async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL, refuse: Refuse): Promise<void> {
    const admitted = await this.admit(req, url);
    if (socket.destroyed) return;
    if ("status" in admitted) refuse(socket, admitted.status, admitted.reason);
    else this.wss.handleUpgrade(req, socket, head, (ws) => this.connected(ws, admitted.devices, admitted.token));
  }

  /** Every client is pinged; one that did not answer the previous ping is gone and is dropped. */
  ping(): void {
    for (const c of this.clients) {
      if (!c.alive) {
        c.ws.terminate();
        continue;
      }
      c.alive = false;
      c.ws.ping();
    }
  }

  private async admit(
    req: IncomingMessage,
    url: URL,
  ): Promise<{ status: number; reason: string } | { devices: Set<string> | undefined; token: string }> {
    if (this.draining) return { status: 503, reason: "draining" };
    if (!this.nc || this.nc.isClosed()) return { status: 503, reason: "events_unavailable" };
    const asked = url.searchParams
      .getAll("device")
      .flatMap((d) => d.split(","))
      .map((d) => d.trim())
      .filter(Boolean);
    if (asked.length > 64 || !asked.every(isValidDeviceId)) return { status: 400, reason: "bad_device_id" };
    const token = tokenFromRequest(req, url);
    const fingerprint = tokenFingerprint(token);
    let held = 0;
    for (const c of this.clients) if (c.token === fingerprint) held++;
    if (held >= this.cfg.maxObserversPerToken) return { status: 429, reason: "too_many_observers_token" };
    const scope = await this.scope(token);
    if (scope === "unauthorized") return { status: 401, reason: "unauthorized" };
    if (scope === "forbidden") return { status: 403, reason: "observer_token_required" };
    if (scope !== "all" && asked.some((d) => d !== scope)) return { status: 403, reason: "wrong_device" };
    if (this.clients.size >= this.cfg.maxObservers) return { status: 503, reason: "too_many_observers" };
    if (scope !== "all") return { devices: new Set([scope]), token: fingerprint };
    return { devices: asked.length > 0 ? new Set(asked) : undefined, token: fingerprint };
  }

  /** "all", "unauthorized", "forbidden", or the one device id a signed device token covers. */
  private async scope(token: string | undefined): Promise<string> {
    if (!this.auth.enabled) return "all";
    if (!token) return "unauthorized";
    let match = false;
    for (const t of this.cfg.observerTokens) match = secretsEqual(token, t) || match;
    if (match) return "all";
    const result = await this.auth.check(token);
    if (!result.ok) return "unauthorized";
    return result.grant.kind === "device" ? result.grant.deviceId : "forbidden";
  }

  private connected(ws: WebSocket, devices: Set<string> | undefined, token: string): void {
    const client: Observer = { ws, devices, token, alive: true };
    this.clients.add(client);
    ws.on("pong", () => {
      client.alive = true;
    });
    this.metrics.observers.set(this.clients.size);
    this.subscribe();
    ws.on("message", () => undefined);
    ws.on("error", () => undefined);
    ws.on("close", () => {
      this.clients.delete(client);
      this.metrics.observers.set(this.clients.size);
      if (this.clients.size === 0) this.unsubscribe();
    });
  }

  private subscribe(): void {
    if (this.sub || !this.nc || this.nc.isClosed()) return;
    this.sub = this.nc.subscribe(EVENT_SUBJECTS, {
      callback: (err, msg) => {
        if (err) return;
        let e: events.Event;
        try {
          e = events.Event.decode(msg.data);
        } catch {
          return;
        }
        this.fanOut(e);
      },
    });
  }

  private unsubscribe(): void {
    this.sub?.unsubscribe();
    this.sub = undefined;
  }

  private fanOut(e: events.Event): void {
    let text: string | undefined;
    for (const c of this.clients) {
      if (c.devices && !c.devices.has(e.deviceId)) continue;
      if (c.ws.readyState !== c.ws.OPEN) continue;
      if (c.ws.bufferedAmount > this.cfg.observerHighWaterBytes) {
        this.log.info("observer too slow, closing");
        c.ws.close(TOO_SLOW, "too slow");
        continue;
      }
      if (text === undefined) {
        const m = observerMessage(e);
        if (!m) return;
        text = JSON.stringify(m);
      }
      c.ws.send(text);
      this.metrics.observerEvents.inc();
    }
  }

  /** SIGTERM: clients are closed with 1012 so they reconnect to another replica. */
  drain(): void {
    this.draining = true;
    this.unsubscribe();
    for (const c of this.clients) c.ws.close(1012, "server restarting");
  }
}
