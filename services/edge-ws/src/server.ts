import { createServer, type IncomingMessage, type Server, type ServerResponse, STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";
import { isValidDeviceId } from "@hotpin/runtime";
import { type WebSocket, WebSocketServer } from "ws";
import { type Authenticator, type Grant, grantCovers, tokenFingerprint, tokenFromRequest } from "./auth";
import type { DialectModule, HeaderRoute } from "./dialects/dialect";
import type { DialectRegistry } from "./dialects/registry";
import type { Fleet } from "./fleet/fleet";
import { ImageUploads } from "./images/upload-handler";
import { ObserverServer } from "./observers/observer-server";
import { DownloadServer } from "./pipeline/downloads";
import { Connection } from "./session/connection";
import type { SessionDeps } from "./session/session";
import { CLOSE_CODES, WsTransport } from "./transport";

export interface EdgeServerDeps extends Omit<SessionDeps, "images"> {
  auth: Authenticator;
  fleet: Fleet;
  dialects: DialectRegistry;
  /** WebSocket paths whose dialect names its device in the upgrade's headers (xiaozhi). */
  headerRoutes: readonly HeaderRoute[];
  /** HTTP endpoints of a dialect's own (xiaozhi OTA and activation). */
  httpHandlers: readonly HttpHandler[];
}

/** An HTTP endpoint: answers and returns true when the request is its own. */
export interface HttpHandler {
  handles(req: IncomingMessage, path: string, res: ServerResponse): boolean;
}

/**
 * The device-facing HTTP server: `/ws` for device sockets (auth and connection limits are
 * checked before the upgrade; a Connection then detects the dialect: session/connection.ts),
 * `POST /image` for camera images, `/events` for observers, `GET /download/<token>` for
 * replies a device did not pull in time, plus the dialects' own HTTP endpoints and header-named
 * WebSocket paths (xiaozhi `/xiaozhi/ota/` and `/xiaozhi/v1/`).
 */
export class EdgeServer {
  readonly http: Server;
  private readonly wss: WebSocketServer;
  /** For dialect paths whose clients offer permessage-deflate (enabled there only: it costs memory per socket). */
  private readonly wssDeflate: WebSocketServer;
  private readonly sockets = new Map<WebSocket, Connection>();
  /** Sockets that have not identified their device yet, per remote address and per token. */
  private readonly pendingByAddress = new Map<string, number>();
  private readonly pendingByToken = new Map<string, number>();
  private readonly alive = new WeakSet<WebSocket>();
  private pinger: NodeJS.Timeout | undefined;
  private draining = false;
  private readonly sessionDeps: SessionDeps;
  readonly uploads: ImageUploads;
  readonly observers: ObserverServer;
  private readonly downloads: DownloadServer;

  constructor(private readonly deps: EdgeServerDeps) {
    this.sessionDeps = { ...deps, images: deps.fleet.images };
    this.uploads = new ImageUploads({
      ...deps,
      pending: deps.fleet.images,
      notifyLocal: (deviceId) => deps.devices.get(deviceId)?.imageReceived(),
    });
    this.observers = new ObserverServer(deps.cfg, deps.auth, deps.log, deps.metrics);
    // The sockets map below is the one list of device sockets: ws keeps none of its own.
    this.wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      maxPayload: deps.cfg.maxFrameBytes,
      perMessageDeflate: false,
    });
    this.wssDeflate = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      maxPayload: deps.cfg.maxFrameBytes,
      perMessageDeflate: true,
    });
    this.downloads = new DownloadServer(deps.services, deps.cfg, deps.metrics);
    // Slow or silent clients must not hold sockets: headers within headersTimeoutMs (checked
    // every second, not Node's default 30 s), the whole request within 30 s, and a cap on TCP
    // connections for everything on this port.
    this.http = createServer({
      headersTimeout: deps.cfg.headersTimeoutMs,
      requestTimeout: Math.max(30_000, deps.cfg.imageUploadTimeoutMs + 5_000),
      connectionsCheckingInterval: Math.min(1_000, deps.cfg.headersTimeoutMs),
    });
    this.http.maxConnections = deps.cfg.maxHttpConnections;
    this.http.on("request", (req, res) => {
      const path = (req.url ?? "/").split("?")[0] ?? "/";
      if (req.method === "GET" && path.startsWith("/download/")) {
        void this.downloads.serve(req, path.slice("/download/".length), res);
      } else if (deps.httpHandlers.some((h) => h.handles(req, path, res))) {
        // answered by the dialect's handler
      } else if (path === "/image") {
        const url = new URL(req.url ?? "/", "http://edge");
        void this.uploads.handle(req, res, url, (deviceId) => deps.devices.get(deviceId)?.id ?? "");
      } else {
        res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
      }
    });
    this.http.on("upgrade", (req, socket, head) => {
      this.upgrade(req, socket, head).catch((err) => {
        deps.log.warn({ err }, "upgrade failed");
        socket.destroy();
      });
    });
  }

  get connections(): number {
    return this.sockets.size;
  }

  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.http.once("error", reject);
      this.http.listen(port, host, () => {
        this.http.off("error", reject);
        const addr = this.http.address();
        resolve(typeof addr === "object" && addr ? addr.port : port);
      });
      this.pinger = setInterval(() => {
        this.ping();
        this.observers.ping();
      }, this.deps.cfg.pingIntervalMs).unref();
    });
  }

  /** Terminates peers that did not answer the last ping: idle devices stay, dead ones go. */
  private ping(): void {
    for (const ws of this.sockets.keys()) {
      if (!this.alive.has(ws)) {
        ws.terminate();
        continue;
      }
      this.alive.delete(ws);
      ws.ping();
    }
  }

  private refuse(socket: Duplex, status: number, reason: string): void {
    this.deps.metrics.refused.inc({ reason });
    const body = `${reason}\n`;
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: text/plain\r\n` +
        `Content-Length: ${body.length}\r\n\r\n${body}`,
    );
  }

  private async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on("error", () => socket.destroy());
    const url = new URL(req.url ?? "/", "http://edge");
    if (url.pathname === "/events") {
      await this.observers.upgrade(req, socket, head, url, (s, status, reason) => this.refuse(s, status, reason));
      return;
    }
    // A dialect with a path of its own (the one its clients have built in), or the shared /ws.
    const routed = this.deps.dialects.fromPath(url.pathname);
    const route = routed?.detect.route;
    const byHeaders = this.deps.headerRoutes.find(
      (r) => url.pathname === r.path || url.pathname === r.path.replace(/\/$/, ""),
    );
    if (url.pathname !== "/ws" && !route && !byHeaders) {
      this.refuse(socket, 404, "not_found");
      return;
    }
    if (this.draining) {
      this.refuse(socket, 503, "draining");
      return;
    }
    if (this.sockets.size >= this.deps.cfg.maxConnections) {
      this.refuse(socket, 503, "too_many_connections");
      return;
    }
    const headed = byHeaders?.accept(req.headers);
    if (headed && "refusal" in headed) {
      this.refuse(socket, 400, headed.refusal);
      return;
    }
    let deviceId = headed?.deviceId ?? (route ? undefined : (url.searchParams.get("session") ?? undefined));
    if (deviceId !== undefined && !isValidDeviceId(deviceId)) {
      this.refuse(socket, 400, "bad_device_id");
      return;
    }
    const remote = req.socket.remoteAddress ?? "";
    const token = route ? (url.searchParams.get(route.tokenParam) ?? undefined) : tokenFromRequest(req, url);
    const tokenKey = tokenFingerprint(token);
    // One address or one token cannot fill the process with sockets that never say who they are.
    if ((this.pendingByAddress.get(remote) ?? 0) >= this.deps.cfg.maxPendingPerAddress) {
      this.refuse(socket, 429, "too_many_pending_address");
      return;
    }
    if ((this.pendingByToken.get(tokenKey) ?? 0) >= this.deps.cfg.maxPendingPerToken) {
      this.refuse(socket, 429, "too_many_pending_token");
      return;
    }
    const result = await this.deps.auth.check(token);
    if (socket.destroyed) return;
    if (!result.ok) {
      this.refuse(socket, 401, `unauthorized_${result.reason}`);
      return;
    }
    if (deviceId !== undefined && !grantCovers(result.grant, deviceId)) {
      this.refuse(socket, 403, "wrong_device");
      return;
    }
    if (route) {
      // The device is the token's: a token for any device names none.
      if (result.grant.kind !== "device") {
        this.refuse(socket, 403, "device_token_required");
        return;
      }
      deviceId = result.grant.deviceId;
      const bad = route.checkQuery?.(url.searchParams);
      if (bad !== undefined) {
        this.refuse(socket, 400, "bad_query");
        return;
      }
    }
    if (this.draining) {
      this.refuse(socket, 503, "draining");
      return;
    }
    const grant = result.grant;
    const wss = route?.perMessageDeflate ? this.wssDeflate : this.wss;
    // A header-named device identifies on its first message (xiaozhi's hello is answered), not here.
    const known = headed
      ? { routed: headed.module, deviceId: undefined, hangupIsNormal: byHeaders?.hangupIsNormal ?? false }
      : { routed, deviceId, hangupIsNormal: false };
    wss.handleUpgrade(req, socket, head, (ws) => this.connected(ws, remote, tokenKey, url, grant, known));
  }

  private connected(
    ws: WebSocket,
    remote: string,
    tokenKey: string,
    url: URL,
    grant: Grant,
    /** The dialect a path names and the device it already knows; whether a close without a frame (1006) is the device's normal hang-up. */
    known: { routed: DialectModule | undefined; deviceId: string | undefined; hangupIsNormal: boolean },
  ): void {
    const transport = new WsTransport(ws, remote, known.hangupIsNormal);
    this.alive.add(ws);
    ws.on("pong", () => this.alive.add(ws));
    ws.on("message", () => this.alive.add(ws));
    ws.on("error", (err) => this.deps.log.debug({ err: err.message }, "socket error"));
    bump(this.pendingByAddress, remote, 1);
    bump(this.pendingByToken, tokenKey, 1);
    let pending = true;
    const identified = () => {
      if (!pending) return;
      pending = false;
      bump(this.pendingByAddress, remote, -1);
      bump(this.pendingByToken, tokenKey, -1);
    };
    const connection = new Connection(this.sessionDeps, {
      transport,
      grant,
      dialect: known.routed ?? { registry: this.deps.dialects, url },
      deviceId: known.deviceId,
      handshakeMs: this.deps.cfg.firstFrameTimeoutMs,
      onIdentified: identified,
    });
    this.sockets.set(ws, connection);
    void transport.closed().then(() => {
      identified();
      this.sockets.delete(ws);
    });
  }

  /**
   * SIGTERM: stop accepting, let utterances in flight finish (bounded), close every device with
   * 1012 so it reconnects (to another replica, when there is one).
   */
  async drain(timeoutMs: number): Promise<void> {
    this.draining = true;
    this.downloads.stop();
    clearInterval(this.pinger);
    this.http.close();
    this.observers.drain();
    const deadline = new Promise<void>((r) => setTimeout(r, timeoutMs).unref());
    await Promise.all(
      [...this.sockets].map(async ([ws, { session }]) => {
        if (session) await Promise.race([session.drain(), deadline]);
        ws.close(CLOSE_CODES.restart, "server restarting");
      }),
    );
    this.http.closeAllConnections();
  }
}

/** Adds `by` to a counter in a map, removing it at zero so the map holds only live keys. */
function bump(map: Map<string, number>, key: string, by: number): void {
  const n = (map.get(key) ?? 0) + by;
  if (n <= 0) map.delete(key);
  else map.set(key, n);
}
