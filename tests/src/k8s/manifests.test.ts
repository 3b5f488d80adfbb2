import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { test } from "node:test";
import { byKind, find, type Workload } from "./objects";
import { type KObject, k8sDir, kubectl, render } from "./render";
import { type Rendering, RULES, violations } from "./rules";

// Every overlay and every combination in deploy/k8s/tests, rendered once.
const TARGETS: { name: string; dir: string; overlay: boolean; base?: boolean }[] = [
  { name: "overlays/dev", dir: "overlays/dev", overlay: true },
  { name: "overlays/production", dir: "overlays/production", overlay: true },
  { name: "tests/base-only", dir: "tests/base-only", overlay: false, base: true },
  { name: "tests/dev-ingress-nginx-policies", dir: "tests/dev-ingress-nginx-policies", overlay: true },
  { name: "tests/nats-cluster-cpu", dir: "tests/nats-cluster-cpu", overlay: false },
  { name: "tests/postgres-cpu", dir: "tests/postgres-cpu", overlay: false },
  { name: "tests/console-only", dir: "tests/console-only", overlay: false },
  { name: "tests/dap1-policies", dir: "tests/dap1-policies", overlay: true },
];

const cache = new Map<string, Rendering>();
function rendering(name: string): Rendering {
  let r = cache.get(name);
  if (!r) {
    const t = TARGETS.find((x) => x.name === name);
    if (!t) throw new Error(`unknown target ${name}`);
    r = { name, objects: render(join(k8sDir, t.dir)), overlay: t.overlay, base: t.base === true };
    cache.set(name, r);
  }
  return r;
}

/** A deep copy of a rendering, changed by `edit`, to show that a rule catches the change. */
function broken(name: string, edit: (objects: KObject[]) => void): Rendering {
  const r = rendering(name);
  const objects = structuredClone(r.objects);
  edit(objects);
  return { ...r, objects };
}

function deployment(objects: KObject[], name: string): Workload {
  const w = find(objects, "Deployment", name) as Workload | undefined;
  assert.ok(w, `Deployment ${name}`);
  return w;
}
function specOf(objects: KObject[], kind: string, name: string): unknown {
  const o = find(objects, kind, name);
  assert.ok(o, `${kind} ${name}`);
  return o.spec;
}
function container(objects: KObject[], name: string) {
  const c = deployment(objects, name).spec.template.spec.containers[0];
  assert.ok(c);
  return c;
}
function only(r: Rendering, id: string): string[] {
  return violations(
    r,
    RULES.filter((x) => x.id === id),
  );
}

test("k8s - kubectl 1.27 or newer is on the PATH (kustomize 5)", () => {
  assert.ok(kubectl());
});

test("k8s - a missing or too old kubectl fails with a clear message", () => {
  const dir = mkdtempSync(join(tmpdir(), "hotpin-kubectl-"));
  const saved = process.env.KUBECTL;
  try {
    const old = join(dir, "kubectl-1.20");
    const version = { clientVersion: { major: "1", minor: "20", gitVersion: "v1.20.2" } };
    writeFileSync(old, `#!/bin/sh\necho '${JSON.stringify(version)}'\n`, { mode: 0o755 });
    process.env.KUBECTL = old;
    assert.throws(() => kubectl(), /kubectl v1\.20\.2 is too old: .* kubectl ≥ 1\.27/);
    process.env.KUBECTL = join(dir, "missing");
    assert.throws(() => kubectl(), /kubectl not found .* kubectl ≥ 1\.27/);
  } finally {
    if (saved === undefined) delete process.env.KUBECTL;
    else process.env.KUBECTL = saved;
    rmSync(dir, { recursive: true, force: true });
  }
});

for (const t of TARGETS) {
  test(`k8s - ${t.name} renders, validates against the schemas and breaks no rule`, () => {
    const r = rendering(t.name);
    assert.ok(r.objects.length > 10, "rendered objects");
    assert.deepEqual(violations(r), []);
  });
}

test("k8s - dev applies to a bare cluster: no CRD kinds, CPU HPAs, single NATS, SQLite storage", () => {
  const r = rendering("overlays/dev");
  assert.deepEqual(
    r.objects.filter(
      (o) => !["v1", "apps/v1", "autoscaling/v2", "rbac.authorization.k8s.io/v1"].includes(o.apiVersion),
    ),
    [],
  );
  assert.deepEqual(
    byKind(r.objects, "HorizontalPodAutoscaler")
      .map((h) => h.metadata.name)
      .sort(),
    ["edge", "llm", "stt", "tts"],
  );
  assert.equal((find(r.objects, "StatefulSet", "nats") as Workload).spec.replicas, 1);
  assert.equal(deployment(r.objects, "storage").spec.strategy?.type, "Recreate");
});

test("k8s - production: 3 NATS servers, CloudNativePG, KEDA on every service, PodMonitors, policies, a route", () => {
  const r = rendering("overlays/production");
  assert.equal((find(r.objects, "StatefulSet", "nats") as Workload).spec.replicas, 3);
  assert.equal(byKind(r.objects, "Cluster").length, 1);
  assert.deepEqual(
    byKind(r.objects, "ScaledObject")
      .map((s) => s.metadata.name)
      .sort(),
    ["edge", "llm", "storage", "stt", "tts"],
  );
  assert.equal(byKind(r.objects, "HorizontalPodAutoscaler").length, 0, "KEDA owns the HPAs");
  assert.ok(byKind(r.objects, "PodMonitor").length >= 5);
  assert.ok(byKind(r.objects, "NetworkPolicy").length >= 7);
  assert.equal(byKind(r.objects, "HTTPRoute").length, 1);
  assert.equal(find(r.objects, "PersistentVolumeClaim", "storage-data"), undefined, "no SQLite claim");
});

test("k8s - DAWN DAP1: off unless its component is added; then port 5000, an allow-list, client addresses kept", () => {
  for (const name of ["overlays/dev", "overlays/production"]) {
    const objects = rendering(name).objects;
    assert.equal(find(objects, "Service", "edge-dap1"), undefined, `${name}: no DAP1 Service`);
    assert.ok(!container(objects, "edge").env?.some((e) => e.name === "HOTPIN_EDGE_DAP1_PORT"), `${name}: DAP1 off`);
  }
  const { objects } = rendering("tests/dap1-policies");
  const edge = container(objects, "edge");
  assert.ok(edge.ports?.some((p) => p.name === "dap1" && p.containerPort === 5000));
  const env = new Map((edge.env ?? []).map((e) => [e.name, e]));
  assert.equal(env.get("HOTPIN_EDGE_DAP1_PORT")?.value, "5000");
  const ref = env.get("HOTPIN_EDGE_DAP1_ALLOWED_NETWORKS")?.valueFrom?.configMapKeyRef;
  assert.ok(ref?.name, "the allow-list comes from a ConfigMap");
  const cm = find(objects, "ConfigMap", ref.name) as { data?: Record<string, string> } | undefined;
  assert.ok(cm?.data?.["allowed-networks"], "the referenced ConfigMap exists with an allow-list");
  const svc = specOf(objects, "Service", "edge-dap1") as { type: string; externalTrafficPolicy: string };
  assert.equal(svc.type, "LoadBalancer");
  assert.equal(svc.externalTrafficPolicy, "Local", "the client address is the device id: no SNAT");
  const policy = specOf(objects, "NetworkPolicy", "edge") as { ingress: { ports?: { port: number }[] }[] };
  assert.ok(
    policy.ingress.some((r) => r.ports?.some((p) => p.port === 5000)),
    "the edge's policy admits DAP1",
  );
  assert.ok(
    policy.ingress.some((r) => r.ports?.some((p) => p.port === 8000)),
    "and still WebSocket devices",
  );
});

test("k8s - the console: in production, not in dev; one replica, ClusterIP, no autoscaler or PDB, its own NATS user", () => {
  assert.equal(find(rendering("overlays/dev").objects, "Deployment", "console"), undefined, "dev has no console");
  for (const name of ["overlays/production", "tests/console-only"]) {
    const r = rendering(name);
    const w = deployment(r.objects, "console");
    assert.equal(w.spec.replicas, 1);
    assert.equal((specOf(r.objects, "Service", "console") as { type?: string }).type ?? "ClusterIP", "ClusterIP");
    assert.equal(byKind(r.objects, "PodDisruptionBudget").filter((p) => p.metadata.name === "console").length, 0);
    assert.ok(!byKind(r.objects, "ScaledObject").some((s) => s.metadata.name === "console"));
    const env = container(r.objects, "console").env ?? [];
    assert.equal(env.find((e) => e.name === "HOTPIN_NATS_USER")?.value, "console");
    for (const n of ["HOTPIN_CONSOLE_OPERATOR_TOKENS", "HOTPIN_TOKEN_SECRET", "HOTPIN_NATS_PASSWORD"])
      assert.ok(env.find((e) => e.name === n)?.valueFrom?.secretKeyRef, `${n} from a Secret`);
    assert.equal((specOf(r.objects, "Service", "edge-metrics") as { clusterIP?: string }).clusterIP, "None");
  }
  // Without components/network-policies its patches match nothing: only its own policy exists.
  assert.deepEqual(
    byKind(rendering("tests/console-only").objects, "NetworkPolicy").map((p) => p.metadata.name),
    ["console"],
  );
  assert.equal(
    container(rendering("overlays/production").objects, "console").image,
    "registry.example.com/hotpin/console:0.1.0",
  );
});

// Each rule fails on a manifest that breaks it: the checks can fail.
const BREAKAGES: { rule: string; target?: string; what: string; edit: (o: KObject[]) => void }[] = [
  {
    rule: "schema",
    what: "a port that is not a number",
    edit: (o) => (((container(o, "stt").ports ?? [])[0] as { containerPort: unknown }).containerPort = "grpc"),
  },
  {
    rule: "schema",
    what: "an unknown kind",
    edit: (o) => o.push({ apiVersion: "example.com/v1", kind: "Widget", metadata: { name: "w" } }),
  },
  {
    rule: "schema",
    target: "overlays/production",
    what: "a ScaledObject without triggers",
    edit: (o) => delete (specOf(o, "ScaledObject", "stt") as Record<string, unknown>).triggers,
  },
  {
    rule: "base-without-crds",
    target: "tests/base-only",
    what: "a PodMonitor in the base",
    edit: (o) =>
      o.push({
        apiVersion: "monitoring.coreos.com/v1",
        kind: "PodMonitor",
        metadata: { name: "x" },
        spec: { selector: {}, podMetricsEndpoints: [] },
      }),
  },
  {
    rule: "known-fields",
    what: "a misspelt probe",
    edit: (o) => {
      const c = container(o, "tts") as unknown as Record<string, unknown>;
      c.readinesProbe = c.readinessProbe;
      delete c.readinessProbe;
    },
  },
  { rule: "resources", what: "no memory limit", edit: (o) => delete container(o, "tts").resources?.limits?.memory },
  {
    rule: "probes",
    what: "readiness on /livez",
    edit: (o) => {
      const c = container(o, "llm");
      c.readinessProbe = structuredClone(c.livenessProbe);
    },
  },
  { rule: "probes", what: "no liveness probe", edit: (o) => delete container(o, "edge").livenessProbe },
  {
    rule: "probe-targets",
    what: "a probe path the runtime does not serve",
    edit: (o) => {
      const p = container(o, "stt").readinessProbe?.httpGet;
      if (p) p.path = "/ready";
    },
  },
  {
    rule: "probe-targets",
    what: "a probe on the gRPC port",
    edit: (o) => {
      const p = container(o, "tts").livenessProbe?.httpGet;
      if (p) p.port = "grpc";
    },
  },
  { rule: "startup-probe", what: "STT without a startupProbe", edit: (o) => delete container(o, "stt").startupProbe },
  {
    rule: "security-context",
    what: "a writable root filesystem",
    edit: (o) => {
      const sc = container(o, "edge").securityContext;
      if (sc) sc.readOnlyRootFilesystem = false;
    },
  },
  {
    rule: "security-context",
    what: "a capability added",
    edit: (o) => {
      const sc = container(o, "llm").securityContext;
      if (sc) sc.capabilities = { add: ["NET_ADMIN"], drop: ["ALL"] };
    },
  },
  {
    rule: "security-context",
    what: "root",
    edit: (o) => {
      const sc = deployment(o, "storage").spec.template.spec.securityContext;
      if (sc) sc.runAsUser = 0;
    },
  },
  { rule: "named-ports", what: "an unnamed port", edit: (o) => delete (container(o, "llm").ports ?? [])[1]?.name },
  {
    rule: "selectors",
    what: "a selector the pods do not carry",
    edit: (o) => {
      deployment(o, "tts").spec.selector.matchLabels = { app: "other" };
    },
  },
  {
    rule: "no-replicas-under-autoscaler",
    what: "replicas under an HPA",
    edit: (o) => {
      deployment(o, "stt").spec.replicas = 2;
    },
  },
  {
    rule: "rollout",
    what: "maxUnavailable 1",
    edit: (o) => {
      deployment(o, "edge").spec.strategy = { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 1 } };
    },
  },
  {
    rule: "pdb",
    what: "a PDB on a single replica",
    edit: (o) =>
      o.push({
        apiVersion: "policy/v1",
        kind: "PodDisruptionBudget",
        metadata: { name: "storage" },
        spec: { maxUnavailable: 1, selector: { matchLabels: { "app.kubernetes.io/name": "storage" } } },
      }),
  },
  {
    rule: "pdb",
    target: "overlays/production",
    what: "two replicas at least and no PDB",
    edit: (o) =>
      o.splice(
        o.findIndex((x) => x.kind === "PodDisruptionBudget" && x.metadata.name === "tts"),
        1,
      ),
  },
  {
    rule: "termination-grace",
    what: "a grace shorter than the drain",
    edit: (o) => {
      deployment(o, "edge").spec.template.spec.terminationGracePeriodSeconds = 30;
    },
  },
  {
    rule: "images",
    what: "an untagged image",
    edit: (o) => {
      container(o, "tts").image = "hotpin/tts";
    },
  },
  {
    rule: "env-is-a-setting",
    what: "a variable no service reads",
    edit: (o) => container(o, "stt").env?.push({ name: "HOTPIN_STT_MODEL", value: "x" }),
  },
  {
    rule: "env-is-a-setting",
    what: "another service's setting",
    edit: (o) => container(o, "tts").env?.push({ name: "HOTPIN_STT_WORKERS", value: "2" }),
  },
  {
    rule: "settings-valid",
    what: "an invalid value",
    edit: (o) => container(o, "stt").env?.push({ name: "HOTPIN_STT_STREAMS_PER_WORKER", value: "many" }),
  },
  {
    rule: "settings-valid",
    what: "the gRPC host left on loopback",
    edit: (o) => {
      const c = container(o, "llm");
      c.env = c.env?.filter((e) => e.name !== "HOTPIN_LLM_HOST");
    },
  },
  {
    rule: "settings-valid",
    what: "the STT address left at its default",
    edit: (o) => {
      const c = container(o, "edge");
      c.env = c.env?.filter((e) => e.name !== "HOTPIN_STT_ADDRESS");
    },
  },
  {
    rule: "settings-valid",
    what: "auth off",
    edit: (o) => container(o, "edge").env?.push({ name: "HOTPIN_AUTH", value: "off" }),
  },
  {
    rule: "secrets-from-secrets",
    what: "a Groq key as a literal",
    edit: (o) => {
      const e = container(o, "llm").env?.find((x) => x.name === "GROQ_API_KEY");
      if (e) {
        e.value = "gsk_live";
        delete e.valueFrom;
      }
    },
  },
  {
    rule: "secrets-from-secrets",
    what: "a token in a ConfigMap",
    edit: (o) =>
      o.push({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "x" }, data: { "token-secret": "abc" } }),
  },
  {
    rule: "writable-paths",
    what: "the SQLite folder not mounted",
    edit: (o) => {
      const c = container(o, "storage");
      c.volumeMounts = c.volumeMounts?.filter((m) => m.name !== "data");
    },
  },
  {
    rule: "writable-paths",
    what: "the spill folder moved off /tmp",
    edit: (o) => container(o, "edge").env?.push({ name: "HOTPIN_EDGE_SPILL_DIR", value: "/var/spill" }),
  },
  {
    rule: "container-ports-are-settings",
    what: "a container port the service does not listen on",
    edit: (o) => {
      const p = (container(o, "tts").ports ?? [])[0];
      if (p) p.containerPort = 50099;
    },
  },
  {
    rule: "service-ports",
    what: "a Service port to no container port",
    edit: (o) => {
      const s = specOf(o, "Service", "stt") as { ports: { targetPort: string }[] };
      const p = s.ports[0];
      if (p) p.targetPort = "http";
    },
  },
  {
    rule: "grpc-targets",
    what: "a ClusterIP gRPC Service",
    edit: (o) => {
      (specOf(o, "Service", "tts") as Record<string, unknown>).clusterIP = "10.0.0.9";
    },
  },
  {
    rule: "grpc-targets",
    what: "a target with the wrong port",
    edit: (o) => {
      const e = container(o, "edge").env?.find((x) => x.name === "HOTPIN_LLM_ADDRESS");
      if (e) e.value = "llm:50051";
    },
  },
  {
    rule: "edge-only-outside",
    what: "a LoadBalancer for storage",
    edit: (o) => {
      (specOf(o, "Service", "storage") as Record<string, unknown>).type = "LoadBalancer";
    },
  },
  {
    rule: "websocket-timeouts",
    target: "tests/dev-ingress-nginx-policies",
    what: "nginx's 60 s read timeout",
    edit: (o) => {
      const i = find(o, "Ingress", "edge");
      if (i?.metadata.annotations) delete i.metadata.annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"];
    },
  },
  {
    rule: "network-policies",
    target: "overlays/production",
    what: "STT open to every pod",
    edit: (o) => {
      const p = specOf(o, "NetworkPolicy", "stt") as { ingress: { from?: unknown }[] };
      delete p.ingress[0]?.from;
    },
  },
  {
    rule: "network-policies",
    target: "overlays/production",
    what: "no default deny",
    edit: (o) =>
      o.splice(
        o.findIndex((x) => x.kind === "NetworkPolicy" && x.metadata.name === "default-deny"),
        1,
      ),
  },
  {
    rule: "otel",
    what: "the collector on localhost",
    edit: (o) => {
      const cm = byKind(o, "ConfigMap").find((c) => c.metadata.name.startsWith("otel-collector-config"));
      const d = cm?.data as Record<string, string>;
      d["config.yaml"] = (d["config.yaml"] ?? "").replace("0.0.0.0:4318", "localhost:4318");
    },
  },
  {
    rule: "nats",
    target: "overlays/production",
    what: "OrderedReady NATS",
    edit: (o) => {
      (find(o, "StatefulSet", "nats") as Workload).spec.podManagementPolicy = "OrderedReady";
    },
  },
  {
    rule: "nats",
    target: "overlays/production",
    what: "a 3-node cluster with a 1-replica event stream",
    edit: (o) => {
      const c = container(o, "storage");
      c.env = c.env?.filter((e) => e.name !== "HOTPIN_STORAGE_EVENTS_REPLICAS");
    },
  },
  {
    rule: "storage-database",
    what: "SQLite on a rolling update",
    edit: (o) => {
      deployment(o, "storage").spec.strategy = { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0 } };
    },
  },
  {
    rule: "autoscaling",
    target: "overlays/production",
    what: "a threshold not from the capacity table",
    edit: (o) => {
      const t = (specOf(o, "ScaledObject", "stt") as { triggers: { metadata: Record<string, string> }[] }).triggers[0];
      if (t) t.metadata.threshold = "40";
    },
  },
  {
    rule: "autoscaling",
    target: "overlays/production",
    what: "a metric no service exports",
    edit: (o) => {
      const t = (specOf(o, "ScaledObject", "tts") as { triggers: { metadata: Record<string, string> }[] }).triggers[0];
      if (t) t.metadata.query = "sum(hotpin_tts_busy_slots)";
    },
  },
  // The console (components/console), in production with the policies and alone on the base.
  {
    rule: "secrets-from-secrets",
    target: "overlays/production",
    what: "console operator tokens as a literal",
    edit: (o) => {
      const e = container(o, "console").env?.find((x) => x.name === "HOTPIN_CONSOLE_OPERATOR_TOKENS");
      if (e) {
        e.value = "operator-token-0123456789";
        delete e.valueFrom;
      }
    },
  },
  {
    rule: "settings-valid",
    target: "tests/console-only",
    what: "the console without operator tokens",
    edit: (o) => {
      const c = container(o, "console");
      c.env = c.env?.filter((e) => e.name !== "HOTPIN_CONSOLE_OPERATOR_TOKENS");
    },
  },
  {
    rule: "settings-valid",
    target: "tests/console-only",
    what: "the console reading edge metrics on loopback",
    edit: (o) => {
      const c = container(o, "console");
      c.env = c.env?.filter((e) => e.name !== "HOTPIN_CONSOLE_EDGE_METRICS_URLS");
    },
  },
  {
    rule: "edge-only-outside",
    target: "overlays/production",
    what: "a LoadBalancer for the console",
    edit: (o) => {
      (specOf(o, "Service", "console") as Record<string, unknown>).type = "LoadBalancer";
    },
  },
  {
    rule: "network-policies",
    target: "overlays/production",
    what: "the console open to every namespace",
    edit: (o) => {
      const p = specOf(o, "NetworkPolicy", "console") as { ingress: { from?: { namespaceSelector?: unknown }[] }[] };
      const peer = p.ingress[0]?.from?.[0];
      if (peer) peer.namespaceSelector = {};
    },
  },
  {
    rule: "network-policies",
    target: "overlays/production",
    what: "storage closed to the console",
    edit: (o) => {
      const p = specOf(o, "NetworkPolicy", "storage") as { ingress: { from?: unknown[] }[] };
      p.ingress = p.ingress.filter((x) => !JSON.stringify(x.from ?? []).includes('"console"'));
    },
  },
  {
    rule: "grpc-targets",
    target: "tests/console-only",
    what: "the console's storage address on the wrong port",
    edit: (o) => {
      const e = container(o, "console").env?.find((x) => x.name === "HOTPIN_STORAGE_ADDRESS");
      if (e) e.value = "storage:50053";
    },
  },
  {
    rule: "probes",
    target: "tests/console-only",
    what: "the console without a readiness probe",
    edit: (o) => delete container(o, "console").readinessProbe,
  },
  {
    rule: "nats-users",
    target: "tests/console-only",
    what: "a console NATS user missing from auth.conf",
    edit: (o) => {
      const e = container(o, "console").env?.find((x) => x.name === "HOTPIN_NATS_USER");
      if (e) e.value = "admin";
    },
  },
  {
    rule: "nats-users",
    target: "overlays/production",
    what: "the server not reading the console's password",
    edit: (o) => {
      const c = (find(o, "StatefulSet", "nats") as Workload).spec.template.spec.containers[0];
      if (c) c.env = c.env?.filter((e) => e.name !== "NATS_CONSOLE_PASSWORD");
    },
  },
  {
    rule: "nats-users",
    target: "tests/console-only",
    what: "the console's auth.conf widening the edge user",
    edit: (o) => {
      const cm = byKind(o, "ConfigMap").find((c) => c.metadata.name.startsWith("nats-config"));
      const d = cm?.data as Record<string, string>;
      d["auth.conf"] = (d["auth.conf"] ?? "").replace('allow: ["hotpin.cmd.>", "hotpin.events.>"', 'allow: [">"');
    },
  },
  {
    rule: "console",
    target: "overlays/production",
    what: "two console replicas",
    edit: (o) => {
      deployment(o, "console").spec.replicas = 2;
    },
  },
  {
    rule: "console",
    target: "tests/console-only",
    what: "device tokens signed with another secret than the edge's",
    edit: (o) => {
      const ref = container(o, "console").env?.find((x) => x.name === "HOTPIN_TOKEN_SECRET")?.valueFrom?.secretKeyRef;
      if (ref) ref.name = "hotpin-console";
    },
  },
  {
    rule: "console",
    target: "tests/console-only",
    what: "edge metrics through a ClusterIP Service",
    edit: (o) => {
      (specOf(o, "Service", "edge-metrics") as Record<string, unknown>).clusterIP = "10.0.0.7";
    },
  },
  {
    rule: "console",
    target: "tests/console-only",
    what: "edge metrics on the edge's WebSocket port",
    edit: (o) => {
      const e = container(o, "console").env?.find((x) => x.name === "HOTPIN_CONSOLE_EDGE_METRICS_URLS");
      if (e) e.value = "http://edge-metrics:8000/metrics";
    },
  },
];

for (const b of BREAKAGES) {
  test(`k8s - rule ${b.rule} fails on ${b.what}`, () => {
    const r = broken(b.target ?? "overlays/dev", b.edit);
    assert.notDeepEqual(only(r, b.rule), [], `${b.rule} found nothing`);
  });
}

test("k8s - every rule has a manifest that breaks it", () => {
  const covered = new Set(BREAKAGES.map((b) => b.rule));
  assert.deepEqual(
    RULES.map((r) => r.id).filter((id) => !covered.has(id)),
    [],
  );
});

test("k8s - a broken overlay on disk fails the checks with the rules it breaks", () => {
  const dir = mkdtempSync(join(tmpdir(), "hotpin-k8s-broken-"));
  try {
    writeFileSync(
      join(dir, "kustomization.yaml"),
      [
        "apiVersion: kustomize.config.k8s.io/v1beta1",
        "kind: Kustomization",
        "resources:",
        // kustomize takes only relative paths to other kustomizations.
        `  - ${relative(dir, join(k8sDir, "overlays", "dev"))}`,
        "patches:",
        "  - target: {kind: Deployment, name: tts}",
        "    patch: |-",
        "      - {op: replace, path: /spec/template/spec/containers/0/securityContext/readOnlyRootFilesystem, value: false}",
        "      - {op: add, path: /spec/template/spec/containers/0/env/-, value: {name: HOTPIN_TTS_VOICES, value: en}}",
        "      - {op: add, path: /spec/replicas, value: 3}",
      ].join("\n"),
    );
    const found = violations({ name: "broken", objects: render(dir), overlay: true });
    const rules = new Set(found.map((f) => f.split(":")[0]));
    assert.deepEqual(
      [...rules].sort(),
      ["env-is-a-setting", "no-replicas-under-autoscaler", "security-context"],
      found.join("\n"),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("k8s - a kustomization that does not render fails with kustomize's message", () => {
  const dir = mkdtempSync(join(tmpdir(), "hotpin-k8s-bad-"));
  try {
    writeFileSync(join(dir, "kustomization.yaml"), "resources:\n  - missing.yaml\n");
    assert.throws(() => render(dir), /kubectl kustomize .* failed: .*missing\.yaml/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
