// The xiaozhi OTA check (`POST /xiaozhi/ota/`) and activation poll (`POST /xiaozhi/ota/activate`):
// a bound device gets where to connect and a device token, any other a code to read aloud
// (docs/protocols/xiaozhi.md §1).
import type { IncomingMessage, ServerResponse } from "node:http";
import { type Logger, secretsEqual } from "@hotpin/runtime";
import {
  ACTIVATE_DONE,
  ACTIVATE_PENDING,
  MAX_OTA_BODY_BYTES,
  newActivationChallenge,
  newActivationCode,
  otaResponse,
  parseActivateRequest,
  parseOtaRequest,
  XiaozhiProtocolError,
} from "@hotpin/xiaozhi";
import type { KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { issueToken } from "../auth";
import type { EdgeConfig } from "../config";
import { XIAOZHI_WS_PATH } from "../dialects/xiaozhi";
import type { EdgeMetrics } from "../metrics";
import { PerMinuteLimit } from "../rate-window";
import {
  codeOfDevice,
  createCode,
  getBinding,
  openBindings,
  openCodes,
  type PendingCode,
  pinClientId,
} from "./bindings";

export const OTA_PATH = "/xiaozhi/ota/";
export const ACTIVATE_PATH = "/xiaozhi/ota/activate";

/** Host headers we are willing to put into a URL: names, IPv4, [IPv6], an optional port. */
const HOST = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]{1,253})(:[0-9]{1,5})?$/;

class BodyTooLarge extends Error {}
class StoreUnavailable extends Error {}

type Cfg = Pick<
  EdgeConfig,
  | "auth"
  | "tokenTtlSec"
  | "publicUrl"
  | "kvReplicas"
  | "xiaozhiWsUrl"
  | "xiaozhiDevices"
  | "xiaozhiCodeTtlSec"
  | "xiaozhiCodesPerMinute"
  | "xiaozhiRequestsPerMinute"
  | "xiaozhiTimezoneOffsetMin"
>;

export interface XiaozhiOtaDeps {
  cfg: Cfg;
  log: Logger;
  metrics: Pick<EdgeMetrics, "xiaozhiOta">;
  /** The secret device tokens are signed with; empty when only static tokens are configured. */
  secret: string;
  now?: () => number;
}

/**
 * Activation state lives in NATS KV (bindings.ts): until `attach`, only devices pre-registered
 * in HOTPIN_EDGE_XIAOZHI_DEVICES are served and others are told to retry (503).
 */
export class XiaozhiOta {
  private bindings: KV | undefined;
  private codes: KV | undefined;
  private readonly preRegistered: Set<string>;
  private readonly requests: PerMinuteLimit;
  private readonly newCodes: PerMinuteLimit;
  private readonly now: () => number;

  constructor(private readonly deps: XiaozhiOtaDeps) {
    this.now = deps.now ?? Date.now;
    this.preRegistered = new Set(deps.cfg.xiaozhiDevices);
    this.requests = new PerMinuteLimit(deps.cfg.xiaozhiRequestsPerMinute, this.now);
    this.newCodes = new PerMinuteLimit(deps.cfg.xiaozhiCodesPerMinute, this.now);
  }

  async attach(nc: NatsConnection): Promise<void> {
    const { kvReplicas, xiaozhiCodeTtlSec } = this.deps.cfg;
    this.bindings = await openBindings(nc, kvReplicas);
    this.codes = await openCodes(nc, xiaozhiCodeTtlSec, kvReplicas);
  }

  /** Whether this request is ours; answers it when it is. */
  handles(req: IncomingMessage, path: string, res: ServerResponse): boolean {
    if (path !== OTA_PATH && path !== OTA_PATH.slice(0, -1) && path !== ACTIVATE_PATH) return false;
    if (req.method === "GET" && path !== ACTIVATE_PATH) {
      res.writeHead(200, { "content-type": "text/plain" }).end("HotPin xiaozhi OTA: POST the device's system info\n");
      return true;
    }
    if (req.method !== "POST") {
      res.writeHead(405, { allow: "POST", "content-type": "text/plain" }).end("POST only\n");
      return true;
    }
    const remote = req.socket.remoteAddress ?? "";
    if (!this.requests.take(remote)) {
      this.count("rate_limited");
      answer(res, 429, { error: "too many requests; retry later" });
      req.resume();
      return true;
    }
    const work = path === ACTIVATE_PATH ? this.activate(req, res) : this.check(req, res, remote);
    work.catch((err) => this.fail(res, err));
    return true;
  }

  private count(outcome: string): void {
    this.deps.metrics.xiaozhiOta.inc({ outcome });
  }

  private fail(res: ServerResponse, err: unknown): void {
    if (err instanceof XiaozhiProtocolError || err instanceof BodyTooLarge) this.count("bad_request");
    if (err instanceof XiaozhiProtocolError) answer(res, 400, { error: err.message });
    else if (err instanceof BodyTooLarge) answer(res, 413, { error: `the body is over ${MAX_OTA_BODY_BYTES} bytes` });
    else if (err instanceof StoreUnavailable) {
      this.count("unavailable");
      answer(res, 503, { error: "device activation is unavailable right now; retry" });
    } else {
      // NATS KV unreachable mid-request, most likely: the device retries any non-200 later.
      this.count("unavailable");
      this.deps.log.warn({ err: (err as Error).message }, "xiaozhi OTA request failed");
      answer(res, 503, { error: "device activation is unavailable right now; retry" });
    }
  }

  private async check(req: IncomingMessage, res: ServerResponse, remote: string): Promise<void> {
    const ota = parseOtaRequest(req.headers, await readBody(req));
    const common = {
      firmwareVersion: ota.firmwareVersion,
      nowMs: this.now(),
      timezoneOffsetMinutes: this.deps.cfg.xiaozhiTimezoneOffsetMin,
    };
    if (await this.bound(ota.deviceId, ota.clientId)) {
      const token = await this.token(ota.deviceId);
      this.deps.log.info({ device: ota.deviceId }, "xiaozhi device given its connection");
      this.count("connection");
      return answer(res, 200, otaResponse({ ...common, websocket: { url: this.wsUrl(req), token } }));
    }
    const pending = await this.codeFor(ota.deviceId, ota.clientId, remote);
    if (!pending) {
      this.count("rate_limited");
      return answer(res, 429, { error: "too many activation codes from this address; retry later" });
    }
    this.count("code");
    answer(
      res,
      200,
      otaResponse({
        ...common,
        activation: {
          code: pending.code,
          message: `HotPin: hotpin activate ${pending.code}`,
          challenge: pending.challenge,
          timeoutMs: Math.max(0, pending.expiresAt - this.now()),
        },
      }),
    );
  }

  private async activate(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { deviceId, clientId } = parseActivateRequest(req.headers, await readBody(req));
    // The eFuse HMAC cannot be checked without the chip's key; the binding is the operator's act.
    const done = await this.bound(deviceId, clientId);
    this.count(done ? "activated" : "pending");
    res.writeHead(done ? ACTIVATE_DONE : ACTIVATE_PENDING, { "content-type": "application/json" });
    res.end(JSON.stringify({ success: done }));
  }

  /** Bound: pre-registered, or bound in KV with this board's client id (pinned at first use). */
  private async bound(deviceId: string, clientId: string): Promise<boolean> {
    if (this.preRegistered.has(deviceId)) return true;
    const kv = this.bindings;
    if (!kv) throw new StoreUnavailable();
    let binding = await getBinding(kv, deviceId);
    if (binding && binding.clientId === undefined) binding = await pinClientId(kv, deviceId, clientId);
    return binding?.clientId !== undefined && secretsEqual(binding.clientId, clientId);
  }

  /** The device's valid code (the same one on every check), or a new one within the rate limit. */
  private async codeFor(deviceId: string, clientId: string, remote: string): Promise<PendingCode | undefined> {
    const kv = this.codes;
    if (!kv) throw new StoreUnavailable();
    const now = this.now();
    const existing = await codeOfDevice(kv, deviceId, now);
    if (existing && secretsEqual(existing.clientId, clientId)) return existing;
    if (!this.newCodes.take(remote)) return undefined;
    for (let attempt = 0; attempt < 8; attempt++) {
      const pending: PendingCode = {
        code: newActivationCode(),
        deviceId,
        clientId,
        challenge: newActivationChallenge(),
        expiresAt: now + this.deps.cfg.xiaozhiCodeTtlSec * 1000,
      };
      if (await createCode(kv, pending)) {
        this.deps.log.info({ device: deviceId }, "xiaozhi activation code issued");
        return pending;
      }
    }
    throw new Error("no free activation code after 8 draws");
  }

  private async token(deviceId: string): Promise<string> {
    const { auth, tokenTtlSec } = this.deps.cfg;
    if (!auth) return "";
    if (!this.deps.secret) {
      this.deps.log.error("xiaozhi devices need HOTPIN_TOKEN_SECRET to be given device tokens");
      throw new StoreUnavailable();
    }
    return issueToken(this.deps.secret, deviceId, tokenTtlSec, this.now());
  }

  /** Where the device connects: configured, else the public URL, else the host it reached us at. */
  private wsUrl(req: IncomingMessage): string {
    const { xiaozhiWsUrl, publicUrl } = this.deps.cfg;
    if (xiaozhiWsUrl) return xiaozhiWsUrl;
    if (publicUrl) return `${publicUrl.replace(/^http/, "ws").replace(/\/+$/, "")}${XIAOZHI_WS_PATH}`;
    const host = req.headers.host ?? "";
    if (!HOST.test(host)) throw new XiaozhiProtocolError("the Host header is not a host name");
    return `ws://${host}${XIAOZHI_WS_PATH}`;
  }
}

function answer(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" });
  res.end(JSON.stringify(body));
}

/** The body as text, refused past the OTA limit (the request timeout bounds slow senders). */
function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_OTA_BODY_BYTES) {
        req.removeAllListeners("data");
        req.resume();
        reject(new BodyTooLarge());
        return;
      }
      parts.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(parts).toString("utf8")));
    req.on("error", reject);
  });
}
