import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { after, before, describe, it } from "node:test";
import { Authenticator } from "@hotpin/edge-ws/dist/auth";
import { readEdgeConfig } from "@hotpin/edge-ws/dist/config";
import { createEdgeMetrics } from "@hotpin/edge-ws/dist/metrics";
import { openBindings, openCodes } from "@hotpin/edge-ws/dist/xiaozhi-ota/bindings";
import { XiaozhiOta } from "@hotpin/edge-ws/dist/xiaozhi-ota/ota-handler";
import { createLogger, createRegistry } from "@hotpin/runtime";
import { startNats, type TestNats } from "@hotpin/test-support";
import { connect } from "@nats-io/transport-node";
import type { ActivationInfo, XiaozhiActivationInfo } from "../api-types";
import { readConsoleConfig } from "../config";
import { type ConsoleService, startConsoleService } from "../console-service";
import { until } from "../testing/until";
import { ActivationRefused, XiaozhiActivation } from "./xiaozhi-activation";

/**
 * The console's xiaozhi activation against a real NATS and the edge's own OTA handler over HTTP:
 * a device's code shows in the console, the operator binds it, the device's next check gets a token.
 */
const OPERATOR = "operator-token-for-tests-0123";
const SECRET = "console-xiaozhi-secret-0123456789-abcdef";
const OTA_BODY = JSON.stringify({
  version: 2,
  application: { name: "xiaozhi", version: "2.0.4" },
  board: { type: "x" },
});

type Available = Extract<XiaozhiActivationInfo, { available: true }>;
type OtaReply = { websocket?: { url: string; token: string }; activation?: { code: string } };

describe("console xiaozhi activation (real NATS, the edge's OTA handler)", () => {
  let nats: TestNats;
  let svc: ConsoleService;
  let ota: Server;
  let otaUrl = "";
  let base = "";
  let cookie = "";

  const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    fetch(`${base}${path}`, {
      method,
      headers: { cookie, ...(body === undefined ? {} : { "content-type": "application/json" }), ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  const xiaozhi = async () => ((await (await call("GET", "/api/activation")).json()) as ActivationInfo).xiaozhi;
  const available = async (ok: (x: Available) => boolean = () => true) =>
    (await until(xiaozhi, (x) => x.available && ok(x))) as Available;
  const check = async (deviceId: string, clientId = `board-${deviceId}`) => {
    const res = await fetch(`${otaUrl}/xiaozhi/ota/`, {
      method: "POST",
      headers: { "device-id": deviceId, "client-id": clientId, "content-type": "application/json" },
      body: OTA_BODY,
    });
    assert.equal(res.status, 200);
    return (await res.json()) as OtaReply;
  };
  const tokenFor = async (token: string | undefined) => {
    const auth = new Authenticator({ enabled: true, staticTokens: [], secret: SECRET, maxTtlSec: 90 * 86_400 });
    const r = await auth.check(token);
    return r.ok && r.grant.kind === "device" ? r.grant.deviceId : undefined;
  };

  before(async () => {
    nats = await startNats();
    const cfg = readConsoleConfig({
      HOTPIN_CONSOLE_OPERATOR_TOKENS: OPERATOR,
      HOTPIN_TOKEN_SECRET: SECRET,
      HOTPIN_NATS_URL: nats.url,
      HOTPIN_CONSOLE_PORT: "0",
      HOTPIN_STORAGE_ADDRESS: "127.0.0.1:1",
      HOTPIN_CONSOLE_EDGE_METRICS_URLS: "http://127.0.0.1:1/metrics",
    });
    svc = await startConsoleService(cfg, createLogger("console", "silent"), createRegistry("console"));
    base = `http://127.0.0.1:${svc.port}`;
    const res = await call("POST", "/api/session", { token: OPERATOR });
    assert.equal(res.status, 200);
    cookie = (res.headers.get("set-cookie") ?? "").split(";")[0]!;
  });

  after(async () => {
    ota?.close();
    await svc?.closeHttp(1000);
    svc?.stopWatching();
    await svc?.drainNats();
    svc?.closeStorage();
    await nats?.[Symbol.asyncDispose]();
  });

  it("console - before the edge creates the buckets: not available, and acts are a clear 503", async () => {
    const x = await xiaozhi();
    assert.equal(x.available, false);
    const res = await call("POST", "/api/activation/codes/123456", {});
    assert.equal(res.status, 503);
    assert.equal(((await res.json()) as { error: string }).error, "activation_unavailable");
  });

  it("console - a device's code is listed (no challenge), bound from the API, and the device then gets a token", async () => {
    // The edge's OTA handler creates both buckets, as the edge does at start.
    const cfg = readEdgeConfig({ HOTPIN_EDGE_XIAOZHI_CODE_TTL_SEC: "600" });
    const handler = new XiaozhiOta({
      cfg,
      log: createLogger("edge", "silent"),
      metrics: createEdgeMetrics(createRegistry("edge")),
      secret: SECRET,
    });
    await handler.attach(svc.nc);
    ota = createServer((req, res) => {
      if (!handler.handles(req, (req.url ?? "/").split("?")[0] ?? "/", res)) res.writeHead(404).end();
    });
    await new Promise<void>((r) => ota.listen(0, "127.0.0.1", r));
    const addr = ota.address();
    otaUrl = `http://127.0.0.1:${typeof addr === "object" && addr ? addr.port : 0}`;

    const device = "aa:bb:cc:00:00:10";
    const first = await check(device);
    const code = first.activation?.code ?? "";
    assert.match(code, /^[0-9]{6}$/);
    const listed = await available((x) => x.pendingCodes.some((p) => p.code === code));
    const entry = listed.pendingCodes.find((p) => p.code === code)!;
    assert.deepEqual(Object.keys(entry).sort(), ["code", "deviceId", "expiresAt"], "the challenge stays with the edge");
    assert.equal(entry.deviceId, device);
    assert.ok(entry.expiresAt > Date.now() + 500_000 && entry.expiresAt <= Date.now() + 600_000);

    // Clear errors: malformed, unknown, from another site.
    assert.equal((await call("POST", "/api/activation/codes/12ab", {})).status, 400);
    const unknown = code === "000000" ? "000001" : "000000";
    const missing = await call("POST", `/api/activation/codes/${unknown}`, {});
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { error: string }).error, "unknown_code");
    const cross = await call("POST", `/api/activation/codes/${code}`, {}, { origin: "http://evil.example" });
    assert.equal(cross.status, 403);
    const signedOut = await fetch(`${base}/api/activation/codes/${code}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    assert.equal(signedOut.status, 401);
    assert.equal((await check(device)).activation?.code, code, "still waiting after the refused attempts");

    const bound = await call("POST", `/api/activation/codes/${code}`, {});
    assert.equal(bound.status, 200);
    assert.equal(((await bound.json()) as { deviceId: string }).deviceId, device);
    assert.equal((await call("POST", `/api/activation/codes/${code}`, {})).status, 404, "a code binds once");

    const after = await available((x) => x.bound.some((b) => b.deviceId === device));
    assert.equal(
      after.pendingCodes.some((p) => p.code === code),
      false,
    );
    const b = after.bound.find((d) => d.deviceId === device)!;
    assert.equal(b.by, "code");
    assert.equal(b.pinned, true);
    assert.equal(b.connected, false);
    const reply = await check(device);
    assert.equal(reply.activation, undefined);
    assert.equal(await tokenFor(reply.websocket?.token), device, "a device token for the bound device");
    assert.equal((await check(device, "another-board")).websocket, undefined, "pinned to the board that asked");
  });

  it("console - pre-register a device id (validated, once), then unbind it: the device gets a code again", async () => {
    const device = "aa:bb:cc:00:00:20";
    for (const bad of [{ deviceId: "has space" }, { deviceId: "" }, { deviceId: 5 }, {}]) {
      const res = await call("POST", "/api/activation/devices", bad);
      assert.equal(res.status, 400, JSON.stringify(bad));
      assert.equal(((await res.json()) as { error: string }).error, "bad_device_id");
    }
    assert.equal((await call("POST", "/api/activation/devices", { deviceId: device })).status, 200);
    const again = await call("POST", "/api/activation/devices", { deviceId: device });
    assert.equal(again.status, 409, "a bound device is not re-registered (its board pin would be lost)");
    const listed = await available((x) => x.bound.some((b) => b.deviceId === device));
    assert.deepEqual((({ by, pinned }) => ({ by, pinned }))(listed.bound.find((b) => b.deviceId === device)!), {
      by: "register",
      pinned: false,
    });
    assert.equal(await tokenFor((await check(device)).websocket?.token), device, "no code needed");
    await available((x) => x.bound.some((b) => b.deviceId === device && b.pinned));

    const path = `/api/activation/devices/${encodeURIComponent(device)}`;
    assert.equal((await call("DELETE", path)).status, 200);
    assert.equal((await call("DELETE", path)).status, 404, "not bound any more");
    assert.equal((await call("DELETE", "/api/activation/devices/%20")).status, 400);
    assert.equal((await call("DELETE", "/api/activation/devices/%E0%A4%A")).status, 400, "a malformed escape");
    await available((x) => !x.bound.some((b) => b.deviceId === device));
    assert.match((await check(device)).activation?.code ?? "", /^[0-9]{6}$/, "unbound: a code again");
  });
});

it("console - NATS gone: binding, registering and unbinding fail as unavailable (503), not as a crash", async () => {
  await using server = await startNats();
  const nc = await connect({ servers: server.url, reconnect: false });
  try {
    await openBindings(nc);
    await openCodes(nc, 600);
    const store = new XiaozhiActivation({
      maxCodes: 10,
      maxBindings: 10,
      log: createLogger("console", "silent"),
      onChange: () => {},
    });
    store.attach(nc);
    await until(
      async () => store.view(() => ({ connected: false })),
      (v) => v !== undefined,
    );
    assert.ok(await store.register("aa:bb:cc:00:00:30"));
    await server.stop();
    await until(
      async () => nc.isClosed(),
      (closed) => closed,
    );
    for (const act of [
      () => store.bind("123456"),
      () => store.register("aa:bb:cc:00:00:31"),
      () => store.unbind("x"),
    ]) {
      await assert.rejects(act(), (err) => err instanceof ActivationRefused && err.kind === "unavailable");
    }
    store.stop();
  } finally {
    await nc.close().catch(() => {});
  }
});
