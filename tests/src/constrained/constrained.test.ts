import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { Mesh, type ServiceName } from "@hotpin/mesh";
import { loadSpeech, runDevice } from "@hotpin/sim";
import { repositoryRoot, startFakeGroq } from "@hotpin/test-support";
import { startNatsWithUsers } from "../k8s/nats-auth";
import { containerEnv, type Workload, workloads } from "../k8s/objects";
import { type KObject, k8sDir, render } from "../k8s/render";
import { bwrapAvailable, type PodConstraints, spawnSandboxed } from "./sandbox";

const GOFORWARD = "/usr/share/pocketsphinx/test/data/goforward.raw";
const TOKEN = "constrained-test-device-token";
/** The processes of overlays/dev (the console is an optional component, not part of it). */
const MESH_SERVICES: ServiceName[] = ["storage", "stt", "llm", "tts", "edge"];
// Set by the mesh on loopback (or by this test): the rest of each container's env is the manifest's.
const MESH_OWNED =
  /_(HOST|PORT|METRICS_PORT|ADDRESS)$|^HOTPIN_NATS_URL$|^HOTPIN_STORAGE_DATA_DIR$|^OTEL_EXPORTER_OTLP_ENDPOINT$/;

// Skipped with this reason on a developer machine without bwrap; in CI a missing bwrap fails.
const skip =
  bwrapAvailable() || process.env.CI ? false : "bubblewrap (bwrap) is not installed: apt-get install bubblewrap";
const requireBwrap = () => assert.ok(bwrapAvailable(), "bubblewrap (bwrap) is required: apt-get install bubblewrap");

function podOf(
  objects: KObject[],
  name: string,
): { w: Workload; constraints: Omit<PodConstraints, "writable">; mounts: string[]; env: Record<string, string> } {
  const w = workloads(objects).find((x) => x.metadata.name === name);
  assert.ok(w, `Deployment ${name}`);
  const spec = w.spec.template.spec;
  const c = spec.containers[0];
  assert.ok(c);
  const sc = { ...spec.securityContext, ...c.securityContext };
  assert.equal(sc.readOnlyRootFilesystem, true, `${name}: read-only root in the manifest`);
  assert.deepEqual(sc.capabilities?.drop, ["ALL"], `${name}: capabilities dropped in the manifest`);
  const env = Object.fromEntries(Object.entries(containerEnv(c).literal).filter(([k]) => !MESH_OWNED.test(k)));
  return {
    w,
    constraints: { uid: sc.runAsUser ?? -1, gid: sc.runAsGroup ?? -1, image: repositoryRoot() },
    mounts: (c.volumeMounts ?? []).filter((m) => !m.readOnly).map((m) => m.mountPath),
    env,
  };
}

test("constrained - the sandbox is a pod: uid 1000, no capabilities, read-only root, only the pod's mounts writable", {
  skip,
}, async () => {
  requireBwrap();
  const objects = render(join(k8sDir, "overlays", "dev"));
  const pod = podOf(objects, "storage");
  assert.deepEqual(pod.mounts.sort(), ["/tmp", "/var/lib/hotpin/storage"]);
  const host = mkdtempSync(join(tmpdir(), "hotpin-sandbox-"));
  try {
    const constraints: PodConstraints = {
      ...pod.constraints,
      writable: pod.mounts.map((path) => ({ path, ...(path === "/tmp" ? {} : { hostDir: host }) })),
    };
    const script = [
      "id -u; id -g; grep CapEff /proc/self/status | tr -s '\\t ' ' '",
      'for p in /tmp/x /var/lib/hotpin/storage/x /x /var/lib/x /usr/x "$PWD/x"; do touch "$p" 2>/dev/null && echo "rw $p" || echo "ro $p"; done',
    ].join("\n");
    const child = spawnSandboxed(constraints, "sh", ["-c", script], { cwd: repositoryRoot() });
    const out: Buffer[] = [];
    child.stdout?.on("data", (d: Buffer) => out.push(d));
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once("error", reject);
      child.once("exit", resolve);
    });
    assert.equal(code, 0);
    assert.deepEqual(Buffer.concat(out).toString().trim().split("\n"), [
      "1000",
      "1000",
      "CapEff: 0000000000000000",
      "rw /tmp/x",
      "rw /var/lib/hotpin/storage/x",
      "ro /x",
      "ro /var/lib/x",
      "ro /usr/x",
      `ro ${repositoryRoot()}/x`,
    ]);
  } finally {
    rmSync(host, { recursive: true, force: true });
  }
});

test("constrained - every service runs as in its pod and the whole mesh answers a device end to end, over NATS with the manifests' users", {
  skip,
}, async () => {
  requireBwrap();
  const objects = render(join(k8sDir, "overlays", "dev"));
  const work = mkdtempSync(join(tmpdir(), "hotpin-constrained-"));
  const passwords = {
    edge: "edge-password-0123456789",
    storage: "storage-password-0123456789",
    operator: "operator-0123456789",
  };
  await using groq = await startFakeGroq();
  const nats = await startNatsWithUsers(objects, work, passwords);
  const pods = Object.fromEntries(MESH_SERVICES.map((s) => [s, podOf(objects, s)]));
  const hostDirs: Record<string, string> = {};
  let mesh: Mesh | undefined;
  const lines: string[] = [];
  try {
    mesh = await Mesh.start({
      root: repositoryRoot(),
      natsUrl: nats.url,
      dataDir: work,
      randomPorts: true,
      only: MESH_SERVICES,
      env: { HOTPIN_LOG_LEVEL: "warn", GROQ_API_KEY: "test-key", GROQ_BASE_URL: groq.url },
      serviceEnv: {
        storage: {
          ...pods.storage?.env,
          HOTPIN_STORAGE_DATA_DIR: "/var/lib/hotpin/storage",
          HOTPIN_SHUTDOWN_DELAY_MS: "0",
          HOTPIN_NATS_PASSWORD: passwords.storage,
        },
        stt: { ...pods.stt?.env, HOTPIN_SHUTDOWN_DELAY_MS: "0" },
        llm: { ...pods.llm?.env, HOTPIN_SHUTDOWN_DELAY_MS: "0" },
        tts: { ...pods.tts?.env, HOTPIN_SHUTDOWN_DELAY_MS: "0" },
        edge: {
          ...pods.edge?.env,
          HOTPIN_SHUTDOWN_DELAY_MS: "0",
          HOTPIN_NATS_PASSWORD: passwords.edge,
          HOTPIN_TOKEN_SECRET: "constrained-token-secret-0123456789",
          HOTPIN_DEVICE_TOKENS: TOKEN,
        },
      },
      output: (name, line) => {
        lines.push(`[${name}] ${line}`);
        if (lines.length > 200) lines.shift();
      },
      spawn: (service, command, args, options) => {
        const pod = pods[service];
        assert.ok(pod, service);
        const writable = pod.mounts.map((path) => {
          if (path === "/tmp") return { path };
          hostDirs[path] ??= mkdtempSync(join(work, "volume-"));
          return { path, hostDir: hostDirs[path] };
        });
        return spawnSandboxed({ ...pod.constraints, writable }, command, args, options);
      },
    });
    for (const s of MESH_SERVICES) await mesh.waitReady(s);

    const r = await runDevice({
      url: `http://127.0.0.1:${mesh.ports.edge.port}`,
      dialect: "firmware",
      deviceId: "constrained-device",
      token: TOKEN,
      pcm: await loadSpeech(GOFORWARD),
      handshakeDelayMs: 0,
      pacing: "fast",
      chunkPauseMs: 0,
    });
    assert.ok(r.ok, `device: ${JSON.stringify(r.error)}\n${lines.join("\n")}`);
    assert.equal(r.utterances[0]?.outcome, "complete");
    assert.match(r.utterances[0]?.transcript ?? "", /forward/);

    // Storage wrote its database into the mounted volume, nowhere else.
    const volume = hostDirs["/var/lib/hotpin/storage"];
    assert.ok(volume);
    assert.ok(execFileSync("ls", [volume], { encoding: "utf8" }).length > 0, "storage wrote to its volume");

    // The operator user reaches the edge replicas over NATS: the device has hung up, so the
    // command finds no replica holding it (exit 2); a refused publish would time out instead.
    const cli = join(repositoryRoot(), "services", "edge-ws", "dist", "cli.js");
    const asked = spawnSync(
      process.execPath,
      [cli, "state", "constrained-device", "--timeout", "10000", "--nats", nats.url],
      {
        encoding: "utf8",
        env: { ...process.env, HOTPIN_NATS_USER: "operator", HOTPIN_NATS_PASSWORD: passwords.operator },
      },
    );
    assert.equal(asked.status, 2, asked.stderr);
    assert.match(asked.stderr, /not connected to any edge replica/);

    for (const s of [...MESH_SERVICES].reverse())
      assert.equal(await mesh.stopService(s), 0, `${s} exits 0 on SIGTERM in the sandbox\n${lines.join("\n")}`);
  } finally {
    await mesh?.stop();
    await nats.stop();
    rmSync(work, { recursive: true, force: true });
  }
});
