import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { after, before, test } from "node:test";
import { connectNats, createLogger, createRegistry } from "@hotpin/runtime";
import { startNats, type TestNats } from "@hotpin/test-support";
import type { NatsConnection } from "@nats-io/transport-node";
import { Authenticator } from "../auth";
import { readEdgeConfig } from "../config";
import { createEdgeMetrics } from "../metrics";
import { activateCode, openBindings, openCodes, putBinding } from "./bindings";
import { XiaozhiOta } from "./ota-handler";

/** The OTA and activation handler against a real NATS (KV buckets), over real HTTP. */
const SECRET = "xiaozhi-test-secret-0123456789abcdef";
const PRE = "aa:bb:cc:00:00:01";
let nats: TestNats;
let nc: NatsConnection;
const servers: Server[] = [];

before(async () => {
  nats = await startNats();
  nc = await connectNats({ servers: nats.url, name: "ota-test", log: createLogger("ota-test", "silent") });
});
after(async () => {
  for (const s of servers) s.close();
  await nc?.close();
  await nats?.[Symbol.asyncDispose]();
});

async function serve(
  env: Record<string, string> = {},
  attach = true,
): Promise<{ url: string; ota: XiaozhiOta; outcomes: () => Promise<Record<string, number>> }> {
  const cfg = readEdgeConfig({ HOTPIN_EDGE_XIAOZHI_DEVICES: PRE, ...env });
  const metrics = createEdgeMetrics(createRegistry("edge"));
  const ota = new XiaozhiOta({ cfg, log: createLogger("ota-test", "silent"), metrics, secret: SECRET });
  if (attach) await ota.attach(nc);
  const server = createServer((req, res) => {
    if (!ota.handles(req, (req.url ?? "/").split("?")[0] ?? "/", res)) res.writeHead(404).end();
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const addr = server.address();
  const outcomes = async () =>
    Object.fromEntries(
      (await metrics.xiaozhiOta.get()).values.map((v) => [String(v.labels.outcome), v.value]),
    ) as Record<string, number>;
  return { url: `http://127.0.0.1:${typeof addr === "object" && addr ? addr.port : 0}`, ota, outcomes };
}

const body = JSON.stringify({
  version: 2,
  application: { name: "xiaozhi", version: "2.0.4" },
  board: { type: "bread" },
});
const post = (url: string, deviceId: string, clientId = `client-${deviceId}`, payload = body) =>
  fetch(url, {
    method: "POST",
    headers: { "device-id": deviceId, "client-id": clientId, "content-type": "application/json" },
    body: payload,
  });
type Reply = {
  websocket?: { url: string; token: string };
  activation?: { code: string; message: string; challenge: string };
  mqtt?: unknown;
  firmware: { version: string; url: string };
  server_time: { timestamp: number; timezone_offset: number };
};

test("xiaozhi ota - unknown device: a code (the same on every check) until bound, then a device token", async () => {
  const { url, outcomes } = await serve();
  const id = "aa:bb:cc:00:00:10";
  const first = (await (await post(`${url}/xiaozhi/ota/`, id)).json()) as Reply;
  assert.equal(first.websocket, undefined);
  assert.equal(first.mqtt, undefined);
  assert.deepEqual(first.firmware, { version: "2.0.4", url: "" });
  assert.match(first.activation?.code ?? "", /^[0-9]{6}$/);
  assert.match(first.activation?.challenge ?? "", /^[0-9a-f]{32}$/);
  const again = (await (await post(`${url}/xiaozhi/ota/`, id)).json()) as Reply;
  assert.equal(again.activation?.code, first.activation?.code, "the device reads out one code");
  assert.equal((await post(`${url}/xiaozhi/ota/activate`, id, undefined, "{}")).status, 202);

  const codes = await openCodes(nc, 600);
  const bindings = await openBindings(nc);
  const bound = await activateCode(codes, bindings, first.activation?.code ?? "");
  assert.equal(bound.deviceId, id);
  await assert.rejects(activateCode(codes, bindings, first.activation?.code ?? ""), /no such activation code/);

  assert.equal((await post(`${url}/xiaozhi/ota/activate`, id, undefined, "{}")).status, 200);
  const done = (await (await post(`${url}/xiaozhi/ota/`, id)).json()) as Reply;
  assert.equal(done.activation, undefined);
  assert.match(done.websocket?.url ?? "", /^ws:\/\/127\.0\.0\.1:[0-9]+\/xiaozhi\/v1\/$/);
  const auth = new Authenticator({ enabled: true, staticTokens: [], secret: SECRET, maxTtlSec: 90 * 86_400 });
  const checked = await auth.check(done.websocket?.token);
  assert.ok(checked.ok && checked.grant.kind === "device" && checked.grant.deviceId === id, "a token for this device");
  // The binding is pinned to the board's client id: the MAC alone gets a code, not the token.
  const other = (await (await post(`${url}/xiaozhi/ota/`, id, "another-board")).json()) as Reply;
  assert.equal(other.websocket, undefined);
  assert.ok(other.activation?.code);
  assert.deepEqual(await outcomes(), { code: 3, pending: 1, activated: 1, connection: 1 });
});

test("xiaozhi ota - pre-registered devices: from config at once (even before NATS), from the CLI pinned at first use", async () => {
  const offline = await serve({}, false);
  const pre = (await (await post(`${offline.url}/xiaozhi/ota/`, PRE)).json()) as Reply;
  assert.ok(pre.websocket?.token, "config pre-registration needs no NATS");
  assert.equal((await post(`${offline.url}/xiaozhi/ota/`, "aa:bb:cc:00:00:20")).status, 503, "activation needs NATS");

  const { url } = await serve({ HOTPIN_EDGE_XIAOZHI_WS_URL: "wss://edge.example/xiaozhi/v1/" });
  const id = "aa:bb:cc:00:00:21";
  await putBinding(await openBindings(nc), { deviceId: id, boundAt: Date.now(), by: "register" });
  const first = (await (await post(`${url}/xiaozhi/ota/`, id, "board-1")).json()) as Reply;
  assert.equal(first.websocket?.url, "wss://edge.example/xiaozhi/v1/");
  const stranger = (await (await post(`${url}/xiaozhi/ota/`, id, "board-2")).json()) as Reply;
  assert.equal(stranger.websocket, undefined, "pinned to the first board");
});

test("xiaozhi ota - bad requests: no identity, bad body, oversize, wrong method; codes and requests are rate-limited", async () => {
  const { url } = await serve({ HOTPIN_EDGE_XIAOZHI_CODES_PER_MINUTE: "2" });
  const noId = await fetch(`${url}/xiaozhi/ota/`, { method: "POST", body });
  assert.equal(noId.status, 400);
  assert.match(((await noId.json()) as { error: string }).error, /Device-Id/);
  assert.equal((await post(`${url}/xiaozhi/ota/`, "bad id")).status, 400);
  assert.equal((await post(`${url}/xiaozhi/ota/`, "aa:bb:cc:00:00:30", undefined, "{nope")).status, 400);
  assert.equal((await post(`${url}/xiaozhi/ota/`, "aa:bb:cc:00:00:30", undefined, "{}")).status, 400, "no version");
  const huge = JSON.stringify({ application: { version: "1.0.0" }, pad: "x".repeat(40_000) });
  assert.equal((await post(`${url}/xiaozhi/ota/`, "aa:bb:cc:00:00:30", undefined, huge)).status, 413);
  assert.equal((await fetch(`${url}/xiaozhi/ota/`, { method: "PUT" })).status, 405);
  assert.equal((await fetch(`${url}/xiaozhi/ota/`)).status, 200);
  // Two new codes a minute from this address; a third device must wait.
  assert.equal((await post(`${url}/xiaozhi/ota/`, "aa:bb:cc:00:00:31")).status, 200);
  assert.equal((await post(`${url}/xiaozhi/ota/`, "aa:bb:cc:00:00:32")).status, 200);
  assert.equal((await post(`${url}/xiaozhi/ota/`, "aa:bb:cc:00:00:33")).status, 429);
  // A device that has its code keeps getting it.
  assert.equal((await post(`${url}/xiaozhi/ota/`, "aa:bb:cc:00:00:31")).status, 200);

  const limited = await serve({ HOTPIN_EDGE_XIAOZHI_REQUESTS_PER_MINUTE: "3" });
  const statuses: number[] = [];
  for (let i = 0; i < 4; i++) statuses.push((await post(`${limited.url}/xiaozhi/ota/`, PRE)).status);
  assert.deepEqual(statuses, [200, 200, 200, 429]);
  assert.deepEqual(await limited.outcomes(), { connection: 3, rate_limited: 1 });
});
