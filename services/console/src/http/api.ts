import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { issueToken, weakSecret } from "@hotpin/edge-ws/dist/auth";
import { DEVICE_ID_RULE, isValidDeviceId, type Logger } from "@hotpin/runtime";
import {
  ACTIVATION_CODE,
  ActivationRefused,
  type RefusalKind,
  type XiaozhiActivation,
} from "../activation/xiaozhi-activation";
import type { ActivationInfo, CommandRequest, ConsoleInfo, IssuedToken, LiveMessage } from "../api-types";
import { BadCommandError, commandBody, type DeviceCommands } from "../commands";
import type { ConsoleConfig } from "../config";
import type { DeviceHistoryStore } from "../device-history";
import type { Fleet } from "../fleet/fleet";
import type { LatencyMonitor } from "../latency/latency-monitor";
import type { ConsoleMetrics } from "../metrics";
import { clearedCookie, type OperatorAuth, sessionCookie, sessionFromCookie } from "../operator-auth";
import { edgeSocketUrl } from "./edge-url";

const MAX_BODY_BYTES = 16 * 1024;
const REFUSALS: Record<RefusalKind, [number, string]> = {
  unknown_code: [404, "unknown_code"],
  already_bound: [409, "already_bound"],
  unavailable: [503, "activation_unavailable"],
};
/** Device ids the console issues tokens for: what fits a NATS subject token and a KV key unchanged. */

/** A path segment as sent; a malformed %-escape is the client's error, not a 500. */
function decodeParam(p: string): string {
  try {
    return decodeURIComponent(p);
  } catch {
    throw new HttpError(400, "bad_path", "the path has a malformed %-escape");
  }
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface ApiDeps {
  cfg: ConsoleConfig;
  auth: OperatorAuth;
  fleet: Fleet;
  latency: LatencyMonitor;
  history: DeviceHistoryStore;
  commands: () => DeviceCommands;
  xiaozhi: XiaozhiActivation;
  metrics: ConsoleMetrics;
  log: Logger;
}

type Handler = (req: IncomingMessage, res: ServerResponse, params: string[], url: URL) => Promise<unknown>;
interface Route {
  method: string;
  path: RegExp;
  name: string;
  handler: Handler;
  /** Signed-in operators only (every route but sign-in). */
  auth: boolean;
}

/** The console's JSON API under /api; every route but sign-in needs the operator's session cookie. */
export class Api {
  private readonly routes: Route[];
  private readonly live = new Set<ServerResponse>();

  constructor(private readonly d: ApiDeps) {
    const r = (method: string, path: RegExp, name: string, handler: Handler, auth = true): Route => ({
      method,
      path,
      name,
      handler,
      auth,
    });
    this.routes = [
      r("POST", /^\/api\/session$/, "signin", (req, res) => this.signIn(req, res), false),
      r("DELETE", /^\/api\/session$/, "signout", async (req, res) => {
        this.d.auth.signOut(sessionFromCookie(req.headers.cookie));
        res.setHeader("set-cookie", clearedCookie());
        return { ok: true };
      }),
      r("GET", /^\/api\/session$/, "me", async () => ({ ok: true })),
      r("GET", /^\/api\/info$/, "info", async (req) => this.info(req)),
      r("GET", /^\/api\/fleet$/, "fleet", async () => this.d.fleet.snapshot()),
      r("GET", /^\/api\/latency$/, "latency", async () => this.d.latency.series()),
      r("GET", /^\/api\/devices\/([^/]+)$/, "device", async (_q, _s, [id]) => this.d.fleet.detail(id!)),
      r("GET", /^\/api\/devices\/([^/]+)\/history$/, "history", async (_q, _s, [id]) =>
        this.d.history
          .history(id!, (t) => this.d.fleet.thumbnailBefore(id!, t))
          .catch((err) => {
            this.d.log.warn({ err: (err as Error).message }, "device history not read from storage");
            throw new HttpError(503, "storage_unavailable", "storage could not be reached");
          }),
      ),
      r("POST", /^\/api\/devices\/([^/]+)\/commands$/, "command", (req, _s, [id]) => this.command(req, id!)),
      r("GET", /^\/api\/blobs\/([^/]+)$/, "thumbnail", (_q, res, [id]) => this.thumbnail(res, id!)),
      r("GET", /^\/api\/activation$/, "activation", async () => this.activation()),
      r("POST", /^\/api\/activation\/codes\/([^/]+)$/, "bind", async (_q, _s, [code]) => this.bindCode(code!)),
      r("POST", /^\/api\/activation\/devices$/, "register", async (req) => this.register(req)),
      r("DELETE", /^\/api\/activation\/devices\/([^/]+)$/, "unbind", async (_q, _s, [id]) => this.unbind(id!)),
      r("POST", /^\/api\/tokens$/, "token", (req) => this.issue(req)),
      r("POST", /^\/api\/virtual-device$/, "virtual", async (req) => this.virtualDevice(req)),
      r("GET", /^\/api\/live$/, "live", (req, res, _p, url) => this.liveStream(req, res, url)),
    ];
  }

  /** Answers an /api request; false when the path is not the API's. */
  async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
    if (!url.pathname.startsWith("/api/")) return false;
    res.setHeader("cache-control", "no-store");
    let route: Route | undefined;
    let params: string[] = [];
    for (const r of this.routes) {
      const m = r.path.exec(url.pathname);
      if (m && r.method === req.method) {
        route = r;
        params = m.slice(1);
        break;
      }
    }
    const name = route?.name ?? "unknown";
    try {
      if (!route) throw new HttpError(404, "not_found", "no such API route");
      if (route.auth && !this.d.auth.check(sessionFromCookie(req.headers.cookie))) {
        throw new HttpError(401, "unauthorized", "sign in with an operator token");
      }
      if (req.method !== "GET") this.checkOrigin(req);
      const body = await route.handler(req, res, params.map(decodeParam), url);
      if (body !== undefined && !res.headersSent) this.json(res, 200, body);
      this.d.metrics.requests.inc({ route: name, code: String(res.statusCode) });
    } catch (err) {
      const e =
        err instanceof HttpError
          ? err
          : err instanceof BadCommandError
            ? new HttpError(400, "bad_request", err.message)
            : new HttpError(500, "internal", "the console could not do that");
      if (!(err instanceof HttpError) && !(err instanceof BadCommandError)) {
        this.d.log.error({ err, route: name }, "api request failed");
      }
      if (!res.headersSent) this.json(res, e.status, { error: e.code, message: e.message });
      else res.destroy();
      this.d.metrics.requests.inc({ route: name, code: String(e.status) });
    }
    return true;
  }

  /** Live stream to every browser: the message as one server-sent event. */
  broadcast(m: LiveMessage): void {
    const deviceScoped = m.type === "timeline" || m.type === "turn";
    const data = `data: ${JSON.stringify(m)}\n\n`;
    for (const res of this.live) {
      const only = (res as ServerResponse & { device?: string }).device;
      if (deviceScoped && only !== undefined && only !== m.deviceId) continue;
      // A browser that stopped reading is closed rather than buffered without end; it reconnects.
      if (res.writableLength > this.d.cfg.liveHighWaterBytes) res.destroy();
      else res.write(data);
    }
  }

  closeLive(): void {
    for (const res of this.live) res.end();
    this.live.clear();
  }

  private json(res: ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      "content-type": "application/json; charset=utf-8",
      "content-length": Buffer.byteLength(text),
    });
    res.end(text);
  }

  /** A browser's state-changing request must come from the console's own pages (SameSite aside). */
  private checkOrigin(req: IncomingMessage): void {
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== `http://${req.headers.host}` && origin !== `https://${req.headers.host}`) {
      throw new HttpError(403, "bad_origin", "request from another site");
    }
    if (req.method === "POST" && !req.headers["content-type"]?.startsWith("application/json")) {
      throw new HttpError(415, "bad_content_type", "send application/json");
    }
  }

  private async body(req: IncomingMessage): Promise<Record<string, unknown>> {
    const parts: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) throw new HttpError(413, "too_large", `bodies are at most ${MAX_BODY_BYTES} bytes`);
      parts.push(chunk);
    }
    try {
      const v = JSON.parse(Buffer.concat(parts).toString("utf8") || "{}") as unknown;
      if (v && typeof v === "object" && !Array.isArray(v)) return v as Record<string, unknown>;
    } catch {
      // fall through
    }
    throw new HttpError(400, "bad_json", "send a JSON object");
  }

  private async signIn(req: IncomingMessage, res: ServerResponse): Promise<unknown> {
    this.checkOrigin(req);
    const { token } = await this.body(req);
    const result = this.d.auth.signIn(token);
    this.d.metrics.signIns.inc({ outcome: result.ok ? "ok" : result.reason });
    if (!result.ok) {
      if (result.reason === "rate_limited") {
        throw new HttpError(429, "rate_limited", "too many wrong tokens; wait a minute");
      }
      throw new HttpError(401, "invalid_token", "that is not an operator token");
    }
    const secure = req.headers["x-forwarded-proto"] === "https" || "encrypted" in req.socket;
    res.setHeader("set-cookie", sessionCookie(result.sessionId, this.d.cfg.sessionTtlSec, secure));
    this.d.log.info("operator signed in");
    return { ok: true };
  }

  private edgeWsUrl(req: IncomingMessage): string {
    return edgeSocketUrl(this.d.cfg.edgeWsUrl, this.d.cfg.edgePort, req.headers.host);
  }

  private info(req: IncomingMessage): ConsoleInfo {
    return { edgeWsUrl: this.edgeWsUrl(req), canIssue: weakSecret(this.d.cfg.tokenSecret) === undefined };
  }

  private async command(req: IncomingMessage, deviceId: string): Promise<unknown> {
    const body = (await this.body(req)) as unknown as CommandRequest;
    const command = commandBody(body, this.d.cfg.maxSayChars);
    const result = await this.d.commands().send(deviceId, command);
    this.d.metrics.commands.inc({ command: command.$case, outcome: result.ok ? "ok" : (result.error ?? "refused") });
    return result;
  }

  private async thumbnail(res: ServerResponse, blobId: string): Promise<undefined> {
    // Only the thumbnails the edge pointed a device's turn at: the blob store holds more than images.
    if (!this.d.fleet.isThumbnail(blobId)) throw new HttpError(404, "not_found", "no such thumbnail");
    const t = await this.d.history.thumbnail(blobId).catch(() => undefined);
    if (!t) throw new HttpError(404, "not_found", "the thumbnail expired or was removed");
    res.writeHead(200, {
      "content-type": t.contentType,
      "content-length": t.data.length,
      "cache-control": "private, max-age=600",
    });
    res.end(t.data);
    return undefined;
  }

  private activation(): ActivationInfo {
    const { devices } = this.d.fleet.snapshot();
    const byId = new Map(devices.map((d) => [d.deviceId, d]));
    const seen = (id: string) => {
      const d = byId.get(id);
      return { connected: d?.connected ?? false, ...(d?.lastActivity ? { lastActivity: d.lastActivity } : {}) };
    };
    const xiaozhi = this.d.xiaozhi.view(seen);
    return {
      preregistered: this.d.cfg.devices.map((id) => ({ deviceId: id, ...seen(id) })),
      xiaozhi: xiaozhi
        ? { available: true, ...xiaozhi }
        : {
            available: false,
            reason: "Waiting for the edge to create the xiaozhi activation buckets in NATS (it does at start).",
          },
      canIssue: weakSecret(this.d.cfg.tokenSecret) === undefined,
      tokenTtlSec: this.d.cfg.deviceTokenTtlSec,
    };
  }

  /** The operator's activation acts, with the activation store's refusals as HTTP errors. */
  private async activationAct<T>(act: () => Promise<T>): Promise<T> {
    try {
      return await act();
    } catch (err) {
      if (err instanceof ActivationRefused) {
        const [status, code] = REFUSALS[err.kind];
        throw new HttpError(status, code, err.message);
      }
      throw err;
    }
  }

  private async bindCode(code: string): Promise<unknown> {
    if (!ACTIVATION_CODE.test(code)) throw new HttpError(400, "bad_code", "an activation code is six digits");
    const b = await this.activationAct(() => this.d.xiaozhi.bind(code));
    // The code is a one-time secret between device and operator: not logged.
    this.d.log.info({ deviceId: b.deviceId }, "xiaozhi device bound by its activation code");
    return { deviceId: b.deviceId, boundAt: b.boundAt, by: b.by };
  }

  private async register(req: IncomingMessage): Promise<unknown> {
    const { deviceId } = await this.body(req);
    if (!isValidDeviceId(deviceId)) throw new HttpError(400, "bad_device_id", `a device id is ${DEVICE_ID_RULE}`);
    const b = await this.activationAct(() => this.d.xiaozhi.register(deviceId));
    this.d.log.info({ deviceId }, "xiaozhi device pre-registered");
    return { deviceId: b.deviceId, boundAt: b.boundAt, by: b.by };
  }

  private async unbind(deviceId: string): Promise<unknown> {
    if (!isValidDeviceId(deviceId)) throw new HttpError(400, "bad_device_id", `a device id is ${DEVICE_ID_RULE}`);
    const had = await this.activationAct(() => this.d.xiaozhi.unbind(deviceId));
    if (!had) throw new HttpError(404, "not_bound", `${deviceId} is not bound`);
    this.d.log.info({ deviceId }, "xiaozhi device unbound");
    return { ok: true };
  }

  private async token(req: IncomingMessage, deviceId: string, ttlSec: number): Promise<IssuedToken> {
    if (weakSecret(this.d.cfg.tokenSecret) !== undefined) {
      throw new HttpError(
        409,
        "no_token_secret",
        "HOTPIN_TOKEN_SECRET is not set (or too weak to sign with): the console cannot issue device tokens",
      );
    }
    const now = Date.now();
    const token = await issueToken(this.d.cfg.tokenSecret, deviceId, ttlSec, now);
    const ws = new URL(this.edgeWsUrl(req));
    ws.searchParams.set("session", deviceId);
    ws.searchParams.set("token", token);
    return { deviceId, token, expiresAt: (Math.floor(now / 1000) + ttlSec) * 1000, wsUrl: ws.href };
  }

  private async issue(req: IncomingMessage): Promise<IssuedToken> {
    const { deviceId, ttlSec } = await this.body(req);
    if (!isValidDeviceId(deviceId)) throw new HttpError(400, "bad_device_id", `a device id is ${DEVICE_ID_RULE}`);
    const ttl = ttlSec === undefined ? this.d.cfg.deviceTokenTtlSec : Number(ttlSec);
    if (!Number.isInteger(ttl) || ttl < 60 || ttl > this.d.cfg.deviceTokenTtlSec) {
      throw new HttpError(400, "bad_ttl", `a token lives 60 to ${this.d.cfg.deviceTokenTtlSec} seconds`);
    }
    const issued = await this.token(req, deviceId, ttl);
    this.d.log.info({ deviceId: issued.deviceId, ttlSec: ttl }, "device token issued");
    return issued;
  }

  /** A short-lived token for a virtual device id of its own (`console-<random>`), or the one asked for. */
  private async virtualDevice(req: IncomingMessage): Promise<IssuedToken> {
    const { deviceId } = await this.body(req);
    const id = typeof deviceId === "string" && deviceId ? deviceId : `console-${randomBytes(4).toString("hex")}`;
    if (!isValidDeviceId(id)) throw new HttpError(400, "bad_device_id", `a device id is ${DEVICE_ID_RULE}`);
    return this.token(req, id, this.d.cfg.virtualTokenTtlSec);
  }

  private async liveStream(req: IncomingMessage, res: ServerResponse, url: URL): Promise<undefined> {
    if (this.live.size >= this.d.cfg.maxLiveClients) {
      throw new HttpError(503, "too_many_streams", "too many live streams open");
    }
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      connection: "keep-alive",
    });
    const device = url.searchParams.get("device");
    const stream = Object.assign(res, device ? { device } : {});
    this.live.add(stream);
    this.d.metrics.liveClients.set(this.live.size);
    res.write(": live\n\nretry: 2000\n\n");
    const ping = setInterval(() => res.write(": ping\n\n"), 15_000);
    req.on("close", () => {
      clearInterval(ping);
      this.live.delete(stream);
      this.d.metrics.liveClients.set(this.live.size);
    });
    return undefined;
  }
}
