import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { readConsoleConfig } from "@hotpin/console/dist/config";
import { startConsoleService } from "@hotpin/console/dist/console-service";
import { edge } from "@hotpin/contracts";
import { sendCommand } from "@hotpin/edge-ws/dist/commands/send-command";
import { openRevocations, revokeToken } from "@hotpin/edge-ws/dist/fleet/revocations";
import {
  activateCode,
  CODES_BUCKET,
  createCode,
  getBinding,
  openBindings,
  openCodes,
  putBinding,
  removeBinding,
} from "@hotpin/edge-ws/dist/xiaozhi-ota/bindings";
import { createLogger, createRegistry, EVENT_SUBJECTS } from "@hotpin/runtime";
import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { startNatsWithUsers } from "./nats-auth";
import { find, resolvedEnv, type Workload } from "./objects";
import { k8sDir, render } from "./render";

// The console's NATS user (components/console/auth.conf) on a real nats-server: everything the
// console does works with it (the calls services/console/src/fleet and commands.ts make), and
// what it must not do (write the edge's buckets, publish events, manage streams) is refused.
const PASSWORDS = { edge: "edge-pw", storage: "storage-pw", operator: "operator-pw", console: "console-pw" };

const objects = render(join(k8sDir, "tests", "console-only"));

async function startServer(dir: string): Promise<{ url: string; child: ChildProcess }> {
  const server = await startNatsWithUsers(objects, dir, PASSWORDS);
  assert.ok(server.auth.includes("user: console"), "the console user in the rendered auth.conf");
  return server;
}

type User = keyof typeof PASSWORDS;

/** A nats-server with the rendered users for `body`, which connects as any of them; all closed after. */
async function withUsers(
  body: (as: (user: User) => Promise<NatsConnection>, url: string) => Promise<void>,
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "hotpin-k8s-nats-"));
  const server = await startServer(dir);
  const conns: NatsConnection[] = [];
  try {
    const as = async (user: User) => {
      const nc = await connect({ servers: server.url, user, pass: PASSWORDS[user] });
      conns.push(nc);
      return nc;
    };
    await body(as, server.url);
  } finally {
    await Promise.all(conns.map((c) => c.close().catch(() => {})));
    // The server writes its store until it has exited: remove the folder after that (bounded).
    const exited = new Promise<void>((resolve) => {
      if (server.child.exitCode !== null || server.child.signalCode !== null) resolve();
      else server.child.once("exit", () => resolve());
    });
    server.child.kill("SIGTERM");
    await within(exited, 10_000, "nats-server exit").catch(() => server.child.kill("SIGKILL"));
    rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
  }
}

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([
    p,
    new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms).unref()),
  ]);
}

test("k8s - the console's NATS user: events, the edge's buckets read and watched, xiaozhi activation, device commands; nothing else", async () => {
  await withUsers(async (as, url) => {
    // The edge creates the buckets and answers commands, as it does in the cluster.
    const edgeNc = await as("edge");
    const edgeKvm = new Kvm(edgeNc);
    const owners = await edgeKvm.create("hotpin_device_owners", { history: 1, ttl: 60_000, maxValueSize: 1024 });
    await edgeKvm.create("hotpin_pending_images", { history: 1 });
    await owners.put("dev1", JSON.stringify({ deviceId: "dev1", instance: "edge-0" }));
    await openBindings(edgeNc);
    await openCodes(edgeNc, 600);
    const cmdSub = edgeNc.subscribe("hotpin.cmd.>");
    void (async () => {
      for await (const m of cmdSub)
        m.respond(edge.CommandReply.encode(edge.CommandReply.fromPartial({ ok: true, message: "ok" })).finish());
    })();
    await edgeNc.flush();

    const nc = await as("console");
    // openExistingBucket: open, then status (stream info).
    const kvm = new Kvm(nc);
    const kv = await kvm.open("hotpin_device_owners");
    await kv.status();
    const images = await kvm.open("hotpin_pending_images");
    await images.status();
    // The fleet's reconcile lists the keys; its watches follow both buckets.
    const keys: string[] = [];
    for await (const k of await kv.keys()) keys.push(k);
    assert.deepEqual(keys, ["dev1"]);
    const watch = await kv.watch();
    const first = await within(
      (async () => {
        for await (const e of watch) return e.key;
        return undefined;
      })(),
      10_000,
      "owner watch",
    );
    assert.equal(first, "dev1");
    watch.stop();
    const imageWatch = await images.watch({ include: "updates" });
    const imageSeen = within(
      (async () => {
        for await (const e of imageWatch) return e.key;
        return undefined;
      })(),
      10_000,
      "image watch",
    );
    await new Kvm(edgeNc).open("hotpin_pending_images").then((b) => b.put("img1", "x"));
    assert.equal(await imageSeen, "img1");
    imageWatch.stop();
    // The event stream, as the edge publishes it.
    const events = nc.subscribe(EVENT_SUBJECTS, { max: 1 });
    await nc.flush();
    edgeNc.publish("hotpin.events.dev1.session_started", new Uint8Array([1]));
    const ev = await within(
      (async () => {
        for await (const m of events) return m.subject;
        return undefined;
      })(),
      10_000,
      "event",
    );
    assert.equal(ev, "hotpin.events.dev1.session_started");
    // A device command by request/reply.
    const reply = await sendCommand(nc, "dev1", { $case: "getState", value: {} }, 5000);
    assert.equal(reply.ok, true);

    // Refused: writing the edge's bucket, publishing events, managing streams.
    // The console itself, configured as the manifest configures it (addresses made local).
    const pod = find(objects, "Deployment", "console") as Workload;
    const container = pod.spec.template.spec.containers[0];
    assert.ok(container);
    const cfg = readConsoleConfig({
      ...resolvedEnv(container),
      HOTPIN_CONSOLE_HOST: "127.0.0.1",
      HOTPIN_CONSOLE_PORT: "0",
      HOTPIN_NATS_URL: url,
      HOTPIN_NATS_PASSWORD: PASSWORDS.console,
      HOTPIN_STORAGE_ADDRESS: "127.0.0.1:1",
      HOTPIN_CONSOLE_EDGE_METRICS_URLS: "http://127.0.0.1:1/metrics",
    });
    assert.equal(cfg.natsUser, "console");
    const svc = await startConsoleService(cfg, createLogger("console", "silent"), createRegistry("console"));
    try {
      assert.equal(svc.check(), true, "the console is ready on its NATS user");
      await owners.put("dev3", JSON.stringify({ deviceId: "dev3", instance: "edge-0", sessionId: "s3", since: 1 }));
      const base = `http://127.0.0.1:${svc.port}`;
      const signin = await fetch(`${base}/api/session`, {
        method: "POST",
        headers: { "content-type": "application/json", origin: base },
        body: JSON.stringify({ token: cfg.operatorTokens[0] }),
      });
      assert.equal(signin.status, 200);
      const cookie = (signin.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
      const deadline = Date.now() + 10_000;
      let ids: string[] = [];
      while (Date.now() < deadline && !ids.includes("dev3")) {
        const res = await fetch(`${base}/api/fleet`, { headers: { cookie } });
        ids = ((await res.json()) as { devices: { deviceId: string }[] }).devices.map((d) => d.deviceId);
        if (!ids.includes("dev3")) await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(ids.includes("dev3"), `the fleet view follows the ownership KV: ${ids.join(",")}`);

      // xiaozhi activation: the console reads both buckets, binds a code (deleting it), registers, unbinds.
      await createCode(await new Kvm(nc).open(CODES_BUCKET), {
        code: "424242",
        deviceId: "aa:bb:cc:00:00:01",
        clientId: "board-1",
        challenge: "c",
        expiresAt: Date.now() + 60_000,
      });
      const call = (method: string, path: string, body?: unknown) =>
        fetch(`${base}${path}`, {
          method,
          headers: { cookie, ...(body === undefined ? {} : { "content-type": "application/json" }) },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
      type Xz = { available: boolean; pendingCodes?: { code: string }[]; bound?: { deviceId: string }[] };
      let xz: Xz = { available: false };
      while (Date.now() < deadline + 10_000 && !xz.pendingCodes?.some((p) => p.code === "424242")) {
        xz = ((await (await call("GET", "/api/activation")).json()) as { xiaozhi: Xz }).xiaozhi;
        if (!xz.pendingCodes?.some((p) => p.code === "424242")) await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(
        xz.pendingCodes?.some((p) => p.code === "424242"),
        `the code is listed: ${JSON.stringify(xz)}`,
      );
      assert.equal((await call("POST", "/api/activation/codes/424242", {})).status, 200, "bind a code");
      assert.equal((await call("POST", "/api/activation/codes/424242", {})).status, 404, "the code was retired");
      assert.equal((await call("POST", "/api/activation/devices", { deviceId: "aa:bb:cc:00:00:02" })).status, 200);
      for (const id of ["aa:bb:cc:00:00:01", "aa:bb:cc:00:00:02"]) {
        assert.equal((await call("DELETE", `/api/activation/devices/${encodeURIComponent(id)}`)).status, 200);
      }
    } finally {
      await svc.closeHttp(1000);
      svc.stopWatching();
      await svc.drainNats();
      svc.closeStorage();
    }

    await assert.rejects(kv.put("dev2", "x", { timeout: 2000 } as never), "console may not write the ownership KV");
    const jsm = await jetstreamManager(nc, { timeout: 2000 });
    await assert.rejects(jsm.streams.delete("KV_hotpin_device_owners"), "console may not delete streams");
    const denied = (async () => {
      for await (const s of nc.status())
        if (s.type === "error" && /Permissions Violation/i.test(String(s.error))) return true;
      return false;
    })();
    nc.publish("hotpin.events.dev1.session_started", new Uint8Array([1]));
    assert.equal(await within(denied, 5000, "publish refusal"), true, "console may not publish events");
  });
});

test("k8s - the edge's and the operator's NATS users: xiaozhi codes and bindings, `hotpin activate`, `hotpin revoke`", async () => {
  await withUsers(async (as) => {
    // The edge makes the buckets at start-up, shows an unknown device a code and binds pre-registered ones.
    const edgeNc = await as("edge");
    await openRevocations(edgeNc, 3600);
    const edgeCodes = await openCodes(edgeNc, 600);
    const edgeBindings = await openBindings(edgeNc);
    await createCode(edgeCodes, {
      code: "135790",
      deviceId: "aa:bb:cc:00:00:09",
      clientId: "board-9",
      challenge: "c",
      expiresAt: Date.now() + 60_000,
    });
    await putBinding(edgeBindings, { deviceId: "aa:bb:cc:00:00:08", boundAt: Date.now(), by: "register" });
    // The operator, as the CLI does it (services/edge-ws/src/cli.ts): open the edge's buckets, act.
    const op = await as("operator");
    const bound = await activateCode(await openCodes(op, 600), await openBindings(op), "135790");
    assert.equal(bound.deviceId, "aa:bb:cc:00:00:09");
    assert.equal(
      (await getBinding(edgeBindings, "aa:bb:cc:00:00:09"))?.clientId,
      "board-9",
      "the edge sees the binding",
    );
    assert.equal(await removeBinding(await openBindings(op), "aa:bb:cc:00:00:08"), true, "hotpin unregister");
    const jti = "AbCdEfGhIjKlMnOpQrStUv";
    await revokeToken(await openRevocations(op, 3600), jti, Date.now() + 60_000);
    assert.ok(await (await openRevocations(edgeNc, 3600)).get(jti), "the edge sees the revocation");
    // Still refused: the operator manages no streams.
    const jsm = await jetstreamManager(op, { timeout: 2000 });
    await assert.rejects(jsm.streams.delete("KV_hotpin_xiaozhi_codes"), "the operator may not delete streams");
  });
});
