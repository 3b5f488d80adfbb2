import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { after, before, describe, it } from "node:test";
import { edge, events } from "@hotpin/contracts";
import { Authenticator } from "@hotpin/edge-ws/dist/auth";
import { commandSubject, createLogger, createRegistry, eventSubject, newEventId, subjectToken } from "@hotpin/runtime";
import { startNats, type TestNats } from "@hotpin/test-support";
import { Kvm } from "@nats-io/kv";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import type { CommandResult, DeviceDetail, FleetSnapshot, IssuedToken, LatencySeries } from "./api-types";
import { readConsoleConfig } from "./config";
import { type ConsoleService, startConsoleService } from "./console-service";
import { OWNER_BUCKET, PENDING_IMAGE_BUCKET } from "./fleet/fleet";
import { until } from "./testing/until";

const OPERATOR = "operator-token-for-tests-0123";
const SECRET = "console-test-secret-0123456789-abcdefgh";

/** A stand-in for an edge replica's /metrics: the stage histogram with counts the test sets. */
function metricsText(firstAudioBelow1s: number, below2s: number): string {
  const line = (stage: string, le: string, n: number) =>
    `hotpin_edge_stage_seconds_bucket{le="${le}",stage="${stage}"} ${n}`;
  const lines: string[] = [];
  for (const stage of ["stt_final", "llm_first_segment", "tts_first_chunk", "first_audio"]) {
    const shift = stage === "first_audio" ? 0 : 0;
    lines.push(line(stage, "0.5", stage === "stt_final" ? below2s : shift));
    lines.push(line(stage, "1", firstAudioBelow1s));
    lines.push(line(stage, "2", below2s));
    lines.push(line(stage, "+Inf", below2s));
  }
  return `${lines.join("\n")}\n`;
}

describe("console service (in process, real NATS)", () => {
  let nats: TestNats;
  let nc: NatsConnection;
  let svc: ConsoleService;
  let metrics: Server;
  let metricsBody = metricsText(0, 0);
  let base = "";
  let cookie = "";

  const get = (path: string, headers: Record<string, string> = { cookie }) => fetch(`${base}${path}`, { headers });
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${base}${path}`, {
      method: "POST",
      headers: { cookie, "content-type": "application/json", ...headers },
      body: JSON.stringify(body),
    });
  const publish = (deviceId: string, sessionId: string, payload: events.Event["payload"], instance = "edge-a") =>
    nc.publish(
      eventSubject(deviceId, payload!.$case),
      events.Event.encode({
        id: newEventId(),
        deviceId,
        sessionId,
        time: new Date(),
        edgeInstance: instance,
        payload,
      }).finish(),
    );

  before(async () => {
    nats = await startNats();
    nc = await connect({ servers: nats.url });
    metrics = createServer((_req, res) => res.end(metricsBody));
    await new Promise<void>((r) => metrics.listen(0, "127.0.0.1", r));
    const address = metrics.address();
    const metricsPort = typeof address === "object" && address ? address.port : 0;
    const cfg = readConsoleConfig({
      HOTPIN_CONSOLE_OPERATOR_TOKENS: OPERATOR,
      HOTPIN_TOKEN_SECRET: SECRET,
      HOTPIN_NATS_URL: nats.url,
      HOTPIN_CONSOLE_PORT: "0",
      HOTPIN_STORAGE_ADDRESS: "127.0.0.1:1",
      HOTPIN_CONSOLE_STORAGE_TIMEOUT_MS: "300",
      HOTPIN_CONSOLE_EDGE_METRICS_URLS: `http://127.0.0.1:${metricsPort}/metrics`,
      HOTPIN_CONSOLE_SCRAPE_INTERVAL_MS: "500",
      HOTPIN_CONSOLE_COMMAND_TIMEOUT_MS: "2000",
      HOTPIN_CONSOLE_MAX_SAY_CHARS: "20",
    });
    // The edge creates the ownership bucket; the console only opens it.
    await new Kvm(nc).create(OWNER_BUCKET, { ttl: 30_000, history: 1 });
    await new Kvm(nc).create(PENDING_IMAGE_BUCKET, { ttl: 30_000, history: 1 });
    svc = await startConsoleService(cfg, createLogger("console", "silent"), createRegistry("console"));
    base = `http://127.0.0.1:${svc.port}`;
    const res = await post("/api/session", { token: OPERATOR });
    assert.equal(res.status, 200);
    cookie = (res.headers.get("set-cookie") ?? "").split(";")[0]!;
  });

  after(async () => {
    await svc?.closeHttp(1000);
    svc?.stopWatching();
    await svc?.drainNats();
    svc?.closeStorage();
    await nc?.close();
    await new Promise((r) => metrics?.close(r));
    await nats?.[Symbol.asyncDispose]();
  });

  it("console - every API route needs the operator's session; the front end does not", async () => {
    const routes: [string, string][] = [
      ["GET", "/api/session"],
      ["DELETE", "/api/session"],
      ["GET", "/api/info"],
      ["GET", "/api/fleet"],
      ["GET", "/api/latency"],
      ["GET", "/api/devices/dev-1"],
      ["GET", "/api/devices/dev-1/history"],
      ["POST", "/api/devices/dev-1/commands"],
      ["GET", "/api/blobs/some-blob"],
      ["GET", "/api/activation"],
      ["POST", "/api/activation/codes/123456"],
      ["POST", "/api/activation/devices"],
      ["DELETE", "/api/activation/devices/dev-1"],
      ["POST", "/api/tokens"],
      ["POST", "/api/virtual-device"],
      ["GET", "/api/live"],
    ];
    for (const [method, path] of routes) {
      for (const c of ["", "hotpin_console=forged", `hotpin_console=${OPERATOR}`]) {
        const res = await fetch(`${base}${path}`, {
          method,
          headers: { cookie: c, "content-type": "application/json", authorization: `Bearer ${OPERATOR}` },
          ...(method === "POST" ? { body: "{}" } : {}),
        });
        assert.equal(res.status, 401, `${method} ${path} with cookie ${JSON.stringify(c)}`);
        await res.body?.cancel();
      }
    }
    const page = await fetch(`${base}/devices/dev-1`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-security-policy") ?? "", /default-src 'self'/);
    assert.match(await page.text(), /<div id="app">/);
  });

  it("console - serves only the built front end: no path escapes it", async () => {
    for (const path of [
      "/..%2f..%2fpackage.json",
      "/%2e%2e/%2e%2e/src/config.ts",
      "/%E0%A4%A",
      "/assets/../../main.js",
    ]) {
      const res = await fetch(`${base}${path}`);
      assert.equal(res.status, 200, path);
      assert.match(await res.text(), /<div id="app">/, path);
    }
    const worklet = await fetch(`${base}/capture-worklet.js`);
    assert.match(worklet.headers.get("content-type") ?? "", /javascript/);
    assert.equal((await fetch(`${base}/`, { method: "POST" })).status, 405);
  });

  it("console - state changes need a JSON body from the console's own origin", async () => {
    const cross = await post("/api/tokens", { deviceId: "dev-x" }, { origin: "http://evil.example" });
    assert.equal(cross.status, 403);
    const form = await fetch(`${base}/api/tokens`, {
      method: "POST",
      headers: { cookie, "content-type": "application/x-www-form-urlencoded" },
      body: "deviceId=dev-x",
    });
    assert.equal(form.status, 415);
    const big = await post("/api/tokens", { deviceId: "x".repeat(20_000) });
    assert.equal(big.status, 413);
  });

  it("console - the fleet follows the ownership KV and the event stream, with a timeline and per-turn timings", async () => {
    const kv = await new Kvm(nc).open(OWNER_BUCKET);
    const key = subjectToken("dev-1");
    await kv.put(key, JSON.stringify({ deviceId: "dev-1", instance: "edge-a", sessionId: "s1", since: Date.now() }));
    publish("dev-1", "s1", { $case: "connected", value: { dialect: "spec", remoteAddress: "10.0.0.9" } });
    publish("dev-1", "s1", { $case: "stateChanged", value: { from: "idle", to: "recording" } });
    publish("dev-1", "s1", { $case: "recordingStarted", value: { utterance: 1 } });
    publish("dev-1", "s1", { $case: "partial", value: { utterance: 1, text: "go" } });
    publish("dev-1", "s1", { $case: "partial", value: { utterance: 1, text: "go forward" } });
    publish("dev-1", "s1", {
      $case: "recordingStopped",
      value: { utterance: 1, chunks: 4, bytes: 64000, durationMs: 2000 },
    });
    publish("dev-1", "s1", {
      $case: "transcript",
      value: { utterance: 1, text: "go forward", confidence: 0.9, durationMs: 2000 },
    });
    publish("dev-1", "s1", { $case: "llmText", value: { utterance: 1, text: "Going.", model: "m", hadImage: false } });
    publish("dev-1", "s1", {
      $case: "ttsDone",
      value: { utterance: 1, durationMs: 900, bytes: 28800, truncated: false, interrupted: false },
    });
    const fleet = await until(
      async () => (await (await get("/api/fleet")).json()) as FleetSnapshot,
      (f) => f.devices.some((d) => d.deviceId === "dev-1" && d.dialect === "spec" && d.state === "recording"),
    );
    assert.equal(fleet.counts.connected, 1);
    assert.deepEqual(fleet.counts.replicas, { "edge-a": 1 });
    const detail = await until(
      async () => (await (await get("/api/devices/dev-1")).json()) as DeviceDetail,
      (d) => d.turns[0]?.outcome === "replied",
    );
    const partials = detail.timeline.filter((e) => e.event === "transcription" && e.fields.is_final === false);
    assert.equal(partials.length, 1, "one partial entry per utterance");
    assert.equal(partials[0]!.fields.text, "go forward");
    assert.ok(
      detail.timeline.every((e) => !("remote_address" in e.fields)),
      "no device addresses shown",
    );
    const turn = detail.turns[0]!;
    assert.ok(turn.sttMs !== undefined && turn.llmMs !== undefined && turn.replyMs !== undefined);

    // Replaced on another replica: the old session's disconnect does not make it look gone.
    await kv.put(key, JSON.stringify({ deviceId: "dev-1", instance: "edge-b", sessionId: "s2", since: Date.now() }));
    publish(
      "dev-1",
      "s1",
      { $case: "disconnected", value: { closeCode: 4001, reason: "replaced", clean: false } },
      "edge-a",
    );
    await until(
      async () => (await (await get("/api/fleet")).json()) as FleetSnapshot,
      (f) => f.devices.some((d) => d.deviceId === "dev-1" && d.connected && d.replica === "edge-b"),
    );
    await kv.delete(key);
    const gone = await until(
      async () => (await (await get("/api/fleet")).json()) as FleetSnapshot,
      (f) => f.counts.connected === 0,
    );
    assert.equal(gone.devices.find((d) => d.deviceId === "dev-1")?.connected, false);
  });

  it("console - commands go to the replica holding the device, and say is checked first", async () => {
    const seen: edge.Command[] = [];
    const sub = nc.subscribe(commandSubject("dev-2"));
    void (async () => {
      for await (const m of sub) {
        const cmd = edge.Command.decode(m.data);
        seen.push(cmd);
        const reply =
          cmd.command?.$case === "say" ? { ok: true } : { ok: false, errorCode: "busy", message: "recording" };
        m.respond(
          edge.CommandReply.encode({
            ...reply,
            errorCode: reply.ok ? "" : "busy",
            message: reply.ok ? "" : "recording",
            state: {
              deviceId: "dev-2",
              sessionId: "s9",
              dialect: "spec",
              state: "idle",
              edgeInstance: "edge-a",
              utterances: 0,
            },
          }).finish(),
        );
      }
    })();
    const said = await (await post("/api/devices/dev-2/commands", { command: "say", text: "Hello there" })).json();
    assert.deepEqual(said, {
      ok: true,
      message: "done",
      state: { replica: "edge-a", dialect: "spec", state: "idle", utterances: 0 },
    });
    assert.equal(seen[0]?.command?.$case, "say");
    const busy = (await (await post("/api/devices/dev-2/commands", { command: "rerecord" })).json()) as CommandResult;
    assert.equal(busy.ok, false);
    assert.equal(busy.error, "busy");
    const long = await post("/api/devices/dev-2/commands", { command: "say", text: "x".repeat(21) });
    assert.equal(long.status, 400);
    const empty = await post("/api/devices/dev-2/commands", { command: "say", text: "  " });
    assert.equal(empty.status, 400);
    const unknown = await post("/api/devices/dev-2/commands", { command: "reboot" });
    assert.equal(unknown.status, 400);
    assert.equal(seen.length, 2, "refused requests never reach the device");
    sub.unsubscribe();
    const nobody = (await (
      await post("/api/devices/nobody/commands", { command: "disconnect" })
    ).json()) as CommandResult;
    assert.equal(nobody.error, "not_connected");
  });

  it("console - issues device tokens the edge accepts for that device only", async () => {
    const res = await post("/api/tokens", { deviceId: "hotpin-kitchen", ttlSec: 3600 });
    assert.equal(res.status, 200);
    const issued = (await res.json()) as IssuedToken;
    const check = await new Authenticator({ enabled: true, staticTokens: [], secret: SECRET, maxTtlSec: 86_400 }).check(
      issued.token,
    );
    assert.ok(check.ok && check.grant.kind === "device" && check.grant.deviceId === "hotpin-kitchen");
    assert.match(issued.wsUrl, /\/ws\?session=hotpin-kitchen&token=eyJ/);
    assert.equal((await post("/api/tokens", { deviceId: "bad id" })).status, 400);
    assert.equal((await post("/api/tokens", { deviceId: "ok", ttlSec: 10 })).status, 400);
    const virtual = (await (await post("/api/virtual-device", {})).json()) as IssuedToken;
    assert.match(virtual.deviceId, /^console-[0-9a-f]{8}$/);
  });

  it("console - an uploaded image's thumbnail is shown with its event and its turn", async () => {
    const images = await new Kvm(nc).open(PENDING_IMAGE_BUCKET);
    const pointer = { blobId: "full-1", thumbnailBlobId: "thumb-1", mimeType: "image/jpeg", width: 64, height: 48 };
    await images.put(
      subjectToken("dev-3"),
      JSON.stringify({ ...pointer, deviceId: "dev-3", bytes: 900, uploadedAt: Date.now() }),
    );
    publish("dev-3", "s3", { $case: "imageReceived", value: { blobId: "full-1", width: 64, height: 48, bytes: 900 } });
    publish("dev-3", "s3", {
      $case: "recordingStopped",
      value: { utterance: 1, chunks: 1, bytes: 3200, durationMs: 100 },
    });
    publish("dev-3", "s3", {
      $case: "llmText",
      value: { utterance: 1, text: "A red square.", model: "m", hadImage: true },
    });
    const detail = await until(
      async () => (await (await get("/api/devices/dev-3")).json()) as DeviceDetail,
      (d) => d.timeline.some((e) => e.thumbnailBlobId === "thumb-1") && d.turns[0]?.thumbnailBlobId === "thumb-1",
    );
    assert.equal(detail.turns[0]?.hadImage, true);
    // Known, but storage cannot be reached in this test: the browser is told it is gone.
    const blob = await get("/api/blobs/thumb-1");
    assert.equal(blob.status, 404);
    assert.match(((await blob.json()) as { message: string }).message, /expired or was removed/);
  });

  it("console - storage away is a clear 503, and only known thumbnails are served", async () => {
    const history = await get("/api/devices/dev-1/history");
    assert.equal(history.status, 503);
    assert.equal(((await history.json()) as { error: string }).error, "storage_unavailable");
    assert.equal((await get("/api/blobs/any-blob-id")).status, 404);
  });

  it("console - latency points come from the edge's histogram increments", async () => {
    metricsBody = metricsText(4, 10);
    const series = await until(
      async () => (await (await get("/api/latency")).json()) as LatencySeries,
      (s) => s.points.some((p) => p.replies === 10),
    );
    const p = series.points.find((x) => x.replies === 10)!;
    assert.equal(p.firstAudioP50, 1167); // rank 5 of 10: one sixth into (1 s, 2 s]
    assert.equal(p.firstAudioP95, 1917);
    assert.deepEqual(series.unreachable, []);
  });
});
