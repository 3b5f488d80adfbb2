import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Setting } from "@hotpin/runtime";
import type { IContainer } from "kubernetes-models/v1/Container";
import type { IProbe } from "kubernetes-models/v1/Probe";
import { parse as parseYaml } from "yaml";
import {
  autoscalers,
  byKind,
  containerEnv,
  find,
  minReplicas,
  resolvedEnv,
  selects,
  type Workload,
  workloads,
} from "./objects";
import { type KObject, k8sDir, ref } from "./render";
import { isCoreKind, schemaErrors } from "./schemas";
import {
  declaredMetrics,
  effective,
  effectiveConfig,
  healthPaths,
  SERVICES,
  type ServiceFacts,
  STANDARD_ENV,
  settingFor,
} from "./services";

/** One rendering of the manifests: an overlay or a base + components combination. */
export interface Rendering {
  name: string;
  objects: KObject[];
  /** Overlays are what operators apply: images must be pinned there. */
  overlay: boolean;
  /** The base alone: no kind that needs a CRD. */
  base?: boolean;
}

export interface Rule {
  id: string;
  /** The sentence of the issue the rule enforces. */
  doc: string;
  check(r: Rendering): string[];
}

interface HotpinContainer {
  w: Workload;
  c: IContainer;
  facts: ServiceFacts;
  env: Record<string, string>;
}

function hotpinContainers(objects: KObject[]): HotpinContainer[] {
  const out: HotpinContainer[] = [];
  for (const w of workloads(objects)) {
    for (const c of w.spec.template.spec.containers) {
      const facts = SERVICES.find((s) => s.name === c.name);
      if (facts) out.push({ w, c, facts, env: resolvedEnv(c) });
    }
  }
  return out;
}

function allContainers(objects: KObject[]): { w: Workload; c: IContainer }[] {
  return workloads(objects).flatMap((w) => w.spec.template.spec.containers.map((c) => ({ w, c })));
}

function portNumber(c: IContainer, port: number | string | undefined): number | undefined {
  if (typeof port === "number") return c.ports?.some((p) => p.containerPort === port) ? port : undefined;
  return c.ports?.find((p) => p.name === port)?.containerPort;
}

function probes(c: IContainer): [string, IProbe | undefined][] {
  return [
    ["startupProbe", c.startupProbe],
    ["readinessProbe", c.readinessProbe],
    ["livenessProbe", c.livenessProbe],
  ];
}

function probeTarget(p: IProbe): string {
  if (p.httpGet) return `http ${p.httpGet.port} ${p.httpGet.path ?? "/"}`;
  if (p.grpc) return `grpc ${p.grpc.port} ${p.grpc.service ?? ""}`;
  if (p.tcpSocket) return `tcp ${p.tcpSocket.port}`;
  return "exec";
}

const SECRET_NAME = /(PASSWORD|SECRET|API_KEY|DATABASE_URL|_TOKENS?)$/;

/** A secret setting, or one named like a credential (a flag such as HOTPIN_EDGE_PRINT_TOKEN is not). */
function holdsSecret(setting: Setting<unknown> | undefined, name: string): boolean {
  if (setting?.secret) return true;
  if (!SECRET_NAME.test(name)) return false;
  try {
    return typeof setting?.read(undefined) !== "boolean";
  } catch {
    return true;
  }
}
const LOOPBACK = /(^|[/@,])(127\.0\.0\.1|localhost|\[::1\])(:|$)/;

// Fields of the pod-level objects in Kubernetes 1.33. kubernetes-models accepts unknown fields, so a
// typo (readinesProbe) would pass its schema check and be dropped or refused by the API server.
const FIELDS: Record<string, string[]> = {
  PodSpec: (
    "activeDeadlineSeconds affinity automountServiceAccountToken containers dnsConfig dnsPolicy enableServiceLinks " +
    "ephemeralContainers hostAliases hostIPC hostNetwork hostPID hostUsers hostname imagePullSecrets initContainers nodeName " +
    "nodeSelector os overhead preemptionPolicy priority priorityClassName readinessGates resourceClaims resources restartPolicy " +
    "runtimeClassName schedulerName schedulingGates securityContext serviceAccount serviceAccountName setHostnameAsFQDN " +
    "shareProcessNamespace subdomain terminationGracePeriodSeconds tolerations topologySpreadConstraints volumes"
  ).split(" "),
  Container: (
    "args command env envFrom image imagePullPolicy lifecycle livenessProbe name ports readinessProbe resizePolicy " +
    "resources restartPolicy securityContext startupProbe stdin stdinOnce terminationMessagePath terminationMessagePolicy tty " +
    "volumeDevices volumeMounts workingDir"
  ).split(" "),
  Probe: (
    "exec failureThreshold grpc httpGet initialDelaySeconds periodSeconds successThreshold tcpSocket " +
    "terminationGracePeriodSeconds timeoutSeconds"
  ).split(" "),
  SecurityContext: (
    "allowPrivilegeEscalation appArmorProfile capabilities privileged procMount readOnlyRootFilesystem " +
    "runAsGroup runAsNonRoot runAsUser seLinuxOptions seccompProfile windowsOptions"
  ).split(" "),
  PodSecurityContext: (
    "appArmorProfile fsGroup fsGroupChangePolicy runAsGroup runAsNonRoot runAsUser seLinuxChangePolicy " +
    "seLinuxOptions seccompProfile supplementalGroups supplementalGroupsPolicy sysctls windowsOptions"
  ).split(" "),
};

function unknownFields(what: string, value: unknown, type: string): string[] {
  if (!value || typeof value !== "object") return [];
  const known = FIELDS[type] ?? [];
  return Object.keys(value)
    .filter((k) => !known.includes(k))
    .map((k) => `${what}: unknown ${type} field ${k}`);
}

/** The users of a NATS auth.conf: name → the password variable and the user's whole block. */
function natsUsers(text: string): Map<string, { passwordVar: string; text: string }> {
  const out = new Map<string, { passwordVar: string; text: string }>();
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const m = /^\s*user:\s*(\S+)\s*$/.exec(lines[i] ?? "");
    if (!m?.[1]) continue;
    const block: string[] = [];
    for (let j = i; j < lines.length && !/^\s{4}}\s*$/.test(lines[j] ?? ""); j++) block.push((lines[j] ?? "").trim());
    const pw = /password:\s*\$(\w+)/.exec(block.join("\n"))?.[1] ?? "";
    out.set(m[1], { passwordVar: pw, text: block.join("\n") });
  }
  return out;
}

/** The capacity table of deploy/k8s/README.md: service → autoscaler threshold it derives. */
function capacityTargets(): Map<string, string> {
  const text = readFileSync(join(k8sDir, "README.md"), "utf8");
  const start = text.indexOf("<!-- capacity -->");
  const end = text.indexOf("<!-- /capacity -->");
  const table = start >= 0 && end > start ? text.slice(start, end) : "";
  const out = new Map<string, string>();
  for (const line of table.split("\n")) {
    const cells = line.split("|").map((c) => c.trim());
    const service = cells[1]?.replace(/`/g, "");
    const target = cells.at(-2)?.replace(/`/g, "");
    if (service && target && /^[0-9.]+$/.test(target)) out.set(service, target);
  }
  return out;
}

export const RULES: Rule[] = [
  {
    id: "schema",
    doc: "validates every object against the Kubernetes schemas (CRD kinds against their schemas too)",
    check: (r) => r.objects.flatMap((o) => schemaErrors(o).map((e) => `${ref(o)}: ${e}`)),
  },
  {
    id: "base-without-crds",
    doc: "anything that needs a CRD lives only in a component, never in the base",
    check: (r) => (r.base ? r.objects.filter((o) => !isCoreKind(o)).map((o) => `${ref(o)} needs a CRD`) : []),
  },
  {
    id: "known-fields",
    doc: "pod specs, containers, probes and security contexts hold only Kubernetes fields",
    check: (r) =>
      workloads(r.objects).flatMap((w) => {
        const pod = w.spec.template.spec;
        const out = [
          ...unknownFields(ref(w), pod, "PodSpec"),
          ...unknownFields(ref(w), pod.securityContext, "PodSecurityContext"),
        ];
        for (const c of [...pod.containers, ...(pod.initContainers ?? [])]) {
          const at = `${ref(w)} ${c.name}`;
          out.push(...unknownFields(at, c, "Container"), ...unknownFields(at, c.securityContext, "SecurityContext"));
          for (const [, p] of probes(c)) out.push(...unknownFields(at, p, "Probe"));
        }
        return out;
      }),
  },
  {
    id: "resources",
    doc: "every Deployment: resources requests and limits",
    check: (r) =>
      allContainers(r.objects).flatMap(({ w, c }) =>
        ["requests", "limits"].flatMap((k) =>
          ["cpu", "memory"]
            .filter((res) => !(c.resources?.[k as "requests" | "limits"] as Record<string, unknown> | undefined)?.[res])
            .map((res) => `${ref(w)} ${c.name}: no ${k}.${res}`),
        ),
      ),
  },
  {
    id: "probes",
    doc: "readiness and liveness on different endpoints (/readyz, /livez) or native gRPC probes",
    check: (r) =>
      allContainers(r.objects).flatMap(({ w, c }) => {
        const out: string[] = [];
        if (!c.readinessProbe) out.push(`${ref(w)} ${c.name}: no readinessProbe`);
        if (!c.livenessProbe) out.push(`${ref(w)} ${c.name}: no livenessProbe`);
        if (c.readinessProbe && c.livenessProbe && probeTarget(c.readinessProbe) === probeTarget(c.livenessProbe)) {
          out.push(`${ref(w)} ${c.name}: readiness and liveness probe the same endpoint (a drain would restart it)`);
        }
        return out;
      }),
  },
  {
    id: "probe-targets",
    doc: "every probe path and port exists",
    check: (r) => {
      const paths = healthPaths();
      return hotpinContainers(r.objects).flatMap(({ w, c, facts, env }) => {
        const metricsPort = effective(facts, env, `HOTPIN_${facts.prefix}_METRICS_PORT`);
        const mainPort = effective(facts, env, `HOTPIN_${facts.prefix}_PORT`);
        return probes(c).flatMap(([kind, p]) => {
          if (!p) return [];
          if (p.httpGet) {
            const port = portNumber(c, p.httpGet.port);
            const path = (p.httpGet.path ?? "/").split("?")[0] ?? "/";
            const out: string[] = [];
            if (port !== metricsPort)
              out.push(`${ref(w)} ${kind}: port ${p.httpGet.port} is not the metrics port ${metricsPort}`);
            if (!paths.has(path))
              out.push(`${ref(w)} ${kind}: the runtime serves no ${path} (it serves ${[...paths].join(", ")})`);
            return out;
          }
          if (p.grpc)
            return p.grpc.port === mainPort ? [] : [`${ref(w)} ${kind}: gRPC port ${p.grpc.port} is not ${mainPort}`];
          return [`${ref(w)} ${kind}: probe the runtime's /livez, /readyz or gRPC health`];
        });
      });
    },
  },
  {
    id: "startup-probe",
    doc: "startupProbe where start-up is slow",
    check: (r) => {
      const slow = new Set([...SERVICES.filter((s) => s.slowStart).map((s) => s.name), "nats"]);
      return allContainers(r.objects)
        .filter(({ c }) => slow.has(c.name) && !c.startupProbe)
        .map(({ w, c }) => `${ref(w)} ${c.name}: starts slowly but has no startupProbe`);
    },
  },
  {
    id: "security-context",
    doc: "securityContext (runAsNonRoot, readOnlyRootFilesystem, all capabilities dropped, no privilege escalation)",
    check: (r) =>
      allContainers(r.objects).flatMap(({ w, c }) => {
        const pod = w.spec.template.spec.securityContext ?? {};
        const sc = c.securityContext ?? {};
        const out: string[] = [];
        if ((sc.runAsNonRoot ?? pod.runAsNonRoot) !== true) out.push("runAsNonRoot is not true");
        const uid = sc.runAsUser ?? pod.runAsUser;
        if (typeof uid !== "number" || uid === 0) out.push("no numeric non-root runAsUser");
        if (sc.readOnlyRootFilesystem !== true) out.push("readOnlyRootFilesystem is not true");
        if (sc.allowPrivilegeEscalation !== false) out.push("allowPrivilegeEscalation is not false");
        if (sc.privileged === true) out.push("privileged");
        if (!sc.capabilities?.drop?.includes("ALL")) out.push("capabilities not dropped (drop: [ALL])");
        if (sc.capabilities?.add?.length) out.push(`adds capabilities ${sc.capabilities.add.join(",")}`);
        return out.map((m) => `${ref(w)} ${c.name}: ${m}`);
      }),
  },
  {
    id: "named-ports",
    doc: "named ports",
    check: (r) =>
      allContainers(r.objects).flatMap(({ w, c }) =>
        (c.ports ?? []).filter((p) => !p.name).map((p) => `${ref(w)} ${c.name}: port ${p.containerPort} has no name`),
      ),
  },
  {
    id: "selectors",
    doc: "selector labels are the pod template's labels",
    check: (r) =>
      workloads(r.objects)
        .filter((w) => !selects(w.spec.selector.matchLabels, w.spec.template.metadata?.labels))
        .map((w) => `${ref(w)}: selector does not match its pod template's labels`),
  },
  {
    id: "no-replicas-under-autoscaler",
    doc: "no replicas where an autoscaler owns the count",
    check: (r) => {
      const out: string[] = [];
      const as = autoscalers(r.objects);
      for (const a of as) {
        const w = find(r.objects, "Deployment", a.target) as Workload | undefined;
        if (!w) out.push(`${a.kind}/${a.name} targets no Deployment ${a.target}`);
        else if (w.spec.replicas !== undefined)
          out.push(`${ref(w)} sets replicas while ${a.kind}/${a.name} owns the count`);
        if (as.filter((b) => b.target === a.target).length > 1) out.push(`${a.target} has more than one autoscaler`);
      }
      return [...new Set(out)];
    },
  },
  {
    id: "rollout",
    doc: "maxUnavailable: 0 (Recreate only for a single writer on a ReadWriteOnce volume)",
    check: (r) =>
      byKind<Workload>(r.objects, "Deployment").flatMap((w) => {
        const s = w.spec.strategy ?? {};
        if (s.type === "Recreate") {
          const claims = (w.spec.template.spec.volumes ?? []).some((v) => v.persistentVolumeClaim);
          return claims &&
            (w.spec.replicas ?? 1) === 1 &&
            minReplicas(w, r.objects) === 1 &&
            !autoscalers(r.objects).some((a) => a.target === w.metadata.name)
            ? []
            : [`${ref(w)}: Recreate without being a single replica on a claim`];
        }
        return s.rollingUpdate?.maxUnavailable === 0 ? [] : [`${ref(w)}: rollingUpdate.maxUnavailable is not 0`];
      }),
  },
  {
    id: "pdb",
    doc: "PDB only where more than one replica is the minimum (and there, always)",
    check: (r) => {
      const out: string[] = [];
      const pdbs = byKind(r.objects, "PodDisruptionBudget");
      for (const w of workloads(r.objects)) {
        const labels = w.spec.template.metadata?.labels;
        const covering = pdbs.filter((p) =>
          selects((p.spec as { selector?: { matchLabels?: Record<string, string> } }).selector?.matchLabels, labels),
        );
        const min = minReplicas(w, r.objects);
        if (min <= 1 && covering.length > 0)
          out.push(`${ref(w)}: PDB with a minimum of ${min} replica(s) blocks node drains`);
        if (min > 1 && covering.length === 0) out.push(`${ref(w)}: ${min} replicas at least but no PDB`);
      }
      for (const p of pdbs) {
        const sel = (p.spec as { selector?: { matchLabels?: Record<string, string> } }).selector?.matchLabels;
        if (!workloads(r.objects).some((w) => selects(sel, w.spec.template.metadata?.labels)))
          out.push(`${ref(p)} selects nothing`);
      }
      return out;
    },
  },
  {
    id: "termination-grace",
    doc: "terminationGracePeriodSeconds sized to the drain (delay + longest step + 10 s)",
    check: (r) =>
      hotpinContainers(r.objects).flatMap(({ w, facts, env }) => {
        const grace = w.spec.template.spec.terminationGracePeriodSeconds;
        const delay = effective(facts, env, "HOTPIN_SHUTDOWN_DELAY_MS") as number;
        const step = effective(facts, env, "HOTPIN_SHUTDOWN_STEP_TIMEOUT_MS") as number;
        const out: string[] = [];
        if (grace === undefined) out.push(`${ref(w)}: terminationGracePeriodSeconds not set`);
        else if (grace < (delay + step) / 1000 + 10) {
          out.push(`${ref(w)}: grace ${grace} s < delay ${delay} ms + step timeout ${step} ms + 10 s`);
        }
        if (delay < 1000)
          out.push(`${ref(w)}: HOTPIN_SHUTDOWN_DELAY_MS ${delay} gives endpoints no time to drop the pod`);
        if (facts.name === "edge") {
          const drain = effective(facts, env, "HOTPIN_EDGE_DRAIN_TIMEOUT_MS") as number;
          if (drain >= step)
            out.push(`${ref(w)}: HOTPIN_EDGE_DRAIN_TIMEOUT_MS ${drain} ≥ step timeout ${step}: the drain is cut`);
        }
        return out;
      }),
  },
  {
    id: "images",
    doc: "images pinned to a tag in every overlay (never :latest)",
    check: (r) =>
      r.overlay
        ? allContainers(r.objects)
            .filter(({ c }) => !c.image || !/:[^/]+$/.test(c.image) || c.image.endsWith(":latest"))
            .map(({ w, c }) => `${ref(w)} ${c.name}: image ${c.image} has no pinned tag`)
        : [],
  },
  {
    id: "env-is-a-setting",
    doc: "every environment variable set in a manifest is a setting that service really reads (from its settings table)",
    check: (r) =>
      hotpinContainers(r.objects).flatMap(({ w, c, facts }) =>
        containerEnv(c)
          .names.filter((n) => !STANDARD_ENV.has(n))
          .flatMap((n) => {
            if (!settingFor(facts, n)) return [`${ref(w)}: ${n} is not a setting of ${facts.name}`];
            if (!facts.readme.includes(`\`${n}\``)) return [`${ref(w)}: ${n} is missing from ${facts.dir}/README.md`];
            return [];
          }),
      ),
  },
  {
    id: "settings-valid",
    doc: "every required setting is set, every value valid, nothing points at loopback inside a pod",
    check: (r) =>
      hotpinContainers(r.objects).flatMap(({ w, facts, env }) => {
        try {
          const cfg = effectiveConfig(facts, env);
          const out: string[] = [];
          for (const [key, value] of Object.entries(cfg)) {
            const text = Array.isArray(value) ? value.join(",") : String(value);
            const setting = facts.settings[key];
            if (setting?.env.startsWith("HOTPIN_NATS_") && !facts.usesNats) continue;
            if (setting && LOOPBACK.test(text))
              out.push(`${ref(w)}: ${setting.env} is ${text}, unreachable from other pods`);
          }
          const host = effective(facts, env, `HOTPIN_${facts.prefix}_HOST`);
          if (host !== "0.0.0.0") out.push(`${ref(w)}: HOTPIN_${facts.prefix}_HOST ${host} is not 0.0.0.0`);
          if (facts.name === "edge") {
            if (cfg.auth !== true) out.push(`${ref(w)}: device authentication is off`);
            if (!env.HOTPIN_TOKEN_SECRET && !env.HOTPIN_DEVICE_TOKENS) out.push(`${ref(w)}: no HOTPIN_TOKEN_SECRET`);
          }
          return out;
        } catch (err) {
          return [`${ref(w)}: ${(err as Error).message}`];
        }
      }),
  },
  {
    id: "secrets-from-secrets",
    doc: "secrets (Groq key, token secret, NATS credentials, database) only from Secrets, never in ConfigMaps",
    check: (r) => {
      const out: string[] = [];
      for (const { w, c, facts } of hotpinContainers(r.objects)) {
        const env = containerEnv(c);
        for (const n of env.names) {
          const isSecret = holdsSecret(settingFor(facts, n), n);
          if (isSecret && !env.secret.has(n)) out.push(`${ref(w)}: ${n} is not read from a Secret`);
        }
        for (const v of Object.values(env.literal))
          if (/:\/\/[^/@\s]+:[^/@\s]+@/.test(v)) out.push(`${ref(w)}: credentials in a value`);
      }
      for (const cm of byKind(r.objects, "ConfigMap")) {
        for (const [k, v] of Object.entries((cm.data as Record<string, string> | undefined) ?? {})) {
          if (SECRET_NAME.test(k.toUpperCase().replace(/[-.]/g, "_")))
            out.push(`${ref(cm)}: key ${k} looks like a secret`);
          if (/password:\s*"?[^$\s"]/.test(v) || /token:\s*"?[^$\s"]/.test(v))
            out.push(`${ref(cm)}: ${k} holds a literal credential`);
        }
      }
      return out;
    },
  },
  {
    id: "writable-paths",
    doc: "every path a service writes to is a setting and is mounted (writable), /tmp an emptyDir",
    check: (r) =>
      hotpinContainers(r.objects).flatMap(({ w, c, facts, env }) => {
        const mounts = (c.volumeMounts ?? []).filter((m) => !m.readOnly);
        const vols = w.spec.template.spec.volumes ?? [];
        const out: string[] = [];
        const tmp = mounts.find((m) => m.mountPath === "/tmp");
        if (!tmp || !vols.find((v) => v.name === tmp.name)?.emptyDir) out.push(`${ref(w)}: /tmp is not an emptyDir`);
        for (const name of facts.writePaths) {
          const path = String(effective(facts, env, name));
          if (!mounts.some((m) => path === m.mountPath || path.startsWith(`${m.mountPath}/`))) {
            out.push(`${ref(w)}: ${name} ${path} is on no writable volume`);
          }
        }
        return out;
      }),
  },
  {
    id: "container-ports-are-settings",
    doc: "container ports are the ports the service listens on",
    check: (r) =>
      hotpinContainers(r.objects).flatMap(({ w, c, facts, env }) => {
        const main = effective(facts, env, `HOTPIN_${facts.prefix}_PORT`);
        const metrics = effective(facts, env, `HOTPIN_${facts.prefix}_METRICS_PORT`);
        const ports = c.ports ?? [];
        const out: string[] = [];
        const mainName = facts.name === "edge" || facts.name === "console" ? "http" : "grpc";
        if (ports.find((p) => p.name === mainName)?.containerPort !== main)
          out.push(`${ref(w)}: port ${mainName} is not ${main}`);
        if (ports.find((p) => p.name === "metrics")?.containerPort !== metrics)
          out.push(`${ref(w)}: port metrics is not ${metrics}`);
        return out;
      }),
  },
  {
    id: "service-ports",
    doc: "every Service port matches a container port",
    check: (r) =>
      byKind(r.objects, "Service").flatMap((s) => {
        const spec = s.spec as {
          selector?: Record<string, string>;
          ports?: { port: number; targetPort?: number | string; name?: string }[];
        };
        const pods = workloads(r.objects).filter((w) => selects(spec.selector, w.spec.template.metadata?.labels));
        if (pods.length === 0) return [`${ref(s)} selects no pods`];
        return (spec.ports ?? []).flatMap((p) => {
          const target = p.targetPort ?? p.port;
          const ok = pods.every((w) =>
            w.spec.template.spec.containers.some((c) => portNumber(c, target) !== undefined),
          );
          return ok ? [] : [`${ref(s)} port ${p.name ?? p.port} → ${target} is no container port`];
        });
      }),
  },
  {
    id: "grpc-targets",
    doc: "gRPC: every target names an existing headless Service and port (dns:/// round robin)",
    check: (r) =>
      hotpinContainers(r.objects).flatMap(({ w, c }) =>
        Object.entries(containerEnv(c).literal)
          .filter(([n]) => n.endsWith("_ADDRESS"))
          .flatMap(([n, v]) => {
            const m = /^(?:dns:\/\/\/)?([a-z0-9-]+)(?:\.[a-z0-9.-]+)?:(\d+)$/.exec(v);
            if (!m) return [`${ref(w)}: ${n} ${v} is not host:port`];
            const svc = find(r.objects, "Service", m[1] ?? "");
            const spec = svc?.spec as { clusterIP?: string; ports?: { port: number }[] } | undefined;
            if (!svc) return [`${ref(w)}: ${n} names no Service ${m[1]}`];
            if (spec?.clusterIP !== "None") return [`${ref(w)}: ${n} → Service/${m[1]} is not headless`];
            if (!spec.ports?.some((p) => p.port === Number(m[2])))
              return [`${ref(w)}: ${n} → Service/${m[1]} has no port ${m[2]}`];
            return [];
          }),
      ),
  },
  {
    id: "edge-only-outside",
    doc: "only the edge is reachable from outside",
    check: (r) => {
      const out: string[] = [];
      for (const s of byKind(r.objects, "Service")) {
        const spec = s.spec as { type?: string; selector?: Record<string, string> };
        const type = spec.type ?? "ClusterIP";
        // The edge's own Services (`edge`, and `edge-dap1` for raw TCP) may face devices.
        const edgePods = spec.selector?.["app.kubernetes.io/name"] === "edge";
        if (type !== "ClusterIP" && !edgePods) out.push(`${ref(s)} is ${type}`);
      }
      for (const i of byKind(r.objects, "Ingress")) {
        const names = JSON.stringify(i.spec).match(/"service":\{"name":"([^"]+)"/g) ?? [];
        for (const n of names) if (!n.includes('"edge"')) out.push(`${ref(i)} exposes ${n}`);
      }
      for (const h of byKind(r.objects, "HTTPRoute")) {
        const rules = (h.spec as { rules?: { backendRefs?: { name: string }[] }[] }).rules ?? [];
        for (const b of rules.flatMap((x) => x.backendRefs ?? []))
          if (b.name !== "edge") out.push(`${ref(h)} routes to ${b.name}`);
      }
      return out;
    },
  },
  {
    id: "websocket-timeouts",
    doc: "a Gateway API route and an ingress-nginx variant for the edge with WebSocket-safe timeouts",
    check: (r) => {
      const out: string[] = [];
      for (const i of byKind(r.objects, "Ingress")) {
        for (const k of ["proxy-read-timeout", "proxy-send-timeout"]) {
          const v = Number(i.metadata.annotations?.[`nginx.ingress.kubernetes.io/${k}`]);
          if (!(v >= 600)) out.push(`${ref(i)}: ${k} ${v || "unset"} (nginx default 60 s cuts idle sockets)`);
        }
      }
      for (const h of byKind(r.objects, "HTTPRoute")) {
        for (const rule of (h.spec as { rules?: { timeouts?: { request?: string } }[] }).rules ?? []) {
          if (rule.timeouts?.request !== "0s")
            out.push(`${ref(h)}: request timeout ${rule.timeouts?.request ?? "default"} would cut sockets`);
        }
      }
      return out;
    },
  },
  {
    id: "network-policies",
    doc: "NetworkPolicies: each gRPC service only from its callers, NATS only from the mesh, default deny",
    check: (r) => {
      const pols = byKind(r.objects, "NetworkPolicy");
      if (pols.length === 0) return [];
      // The console's own policy comes with the console; the mesh's only with components/network-policies.
      const mesh = pols.some((p) => p.metadata.name !== "console");
      type Peer = {
        podSelector?: { matchLabels?: Record<string, string> };
        namespaceSelector?: unknown;
        ipBlock?: unknown;
      };
      type Pol = {
        podSelector: { matchLabels?: Record<string, string> };
        policyTypes?: string[];
        ingress?: { from?: Peer[]; ports?: { port: number }[] }[];
      };
      const out: string[] = [];
      if (
        mesh &&
        !pols.some(
          (p) =>
            Object.keys((p.spec as Pol).podSelector.matchLabels ?? {}).length === 0 &&
            ((p.spec as Pol).policyTypes ?? []).includes("Ingress") &&
            !(p.spec as Pol).ingress,
        )
      ) {
        out.push("no default-deny NetworkPolicy");
      }
      const callers: Record<string, [number, string[]]> = !mesh
        ? {}
        : {
            stt: [50051, ["edge"]],
            llm: [50052, ["edge"]],
            tts: [50053, ["edge"]],
            storage: [50054, ["edge", "console"]],
            nats: [4222, ["edge", "storage"]],
          };
      // The console (optional): its own policy, its port only from namespaces operators come in
      // through, and the ports it calls open to it.
      if (find(r.objects, "Deployment", "console")) {
        callers.console = [8090, []];
        const admits = (name: string, port: number) =>
          pols.some(
            (p) =>
              (p.spec as Pol).podSelector.matchLabels?.["app.kubernetes.io/name"] === name &&
              ((p.spec as Pol).ingress ?? []).some(
                (rule) =>
                  (rule.ports ?? []).some((x) => x.port === port) &&
                  (rule.from ?? []).some((f) => f.podSelector?.matchLabels?.["app.kubernetes.io/name"] === "console"),
              ),
          );
        for (const [name, port] of [
          ["edge", 9464],
          ["storage", 50054],
        ] as const)
          if (mesh && !admits(name, port)) out.push(`${name} does not admit the console on ${port}`);
      }
      for (const [name, [port, allowed]] of Object.entries(callers)) {
        const own = pols.filter((p) => (p.spec as Pol).podSelector.matchLabels?.["app.kubernetes.io/name"] === name);
        if (own.length === 0) out.push(`no NetworkPolicy for ${name}`);
        for (const p of own) {
          for (const rule of (p.spec as Pol).ingress ?? []) {
            if (!(rule.ports ?? []).some((x) => x.port === port)) continue;
            if (!rule.from) out.push(`${ref(p)}: port ${port} open to everyone`);
            for (const peer of rule.from ?? []) {
              const app = peer.podSelector?.matchLabels?.["app.kubernetes.io/name"];
              // Operators come in through a namespace (a proxy's), named by its labels, never all of them.
              const viaNamespace =
                name === "console" &&
                !peer.podSelector &&
                Object.keys((peer.namespaceSelector as { matchLabels?: object } | undefined)?.matchLabels ?? {})
                  .length > 0;
              if (name === "console" && !peer.namespaceSelector && !app)
                out.push(`${ref(p)}: port ${port} open to ${JSON.stringify(peer)}`);
              if (peer.ipBlock || (peer.namespaceSelector && !viaNamespace) || (app && !allowed.includes(app))) {
                out.push(`${ref(p)}: port ${port} open to ${JSON.stringify(peer)}`);
              }
            }
          }
        }
      }
      return out;
    },
  },
  {
    id: "otel",
    doc: "collector: OTLP/HTTP on 0.0.0.0:4318, memory limiter, k8s attributes; services point OTEL_EXPORTER_OTLP_ENDPOINT at it",
    check: (r) => {
      const out: string[] = [];
      const cm = byKind(r.objects, "ConfigMap").find((c) => c.metadata.name.startsWith("otel-collector-config"));
      const text = (cm?.data as Record<string, string> | undefined)?.["config.yaml"];
      if (!text) return ["no otel-collector-config ConfigMap with config.yaml"];
      const cfg = parseYaml(text) as {
        receivers?: { otlp?: { protocols?: { http?: { endpoint?: string } } } };
        processors?: Record<string, unknown>;
        service?: { pipelines?: { traces?: { processors?: string[]; receivers?: string[] } } };
      };
      if (cfg.receivers?.otlp?.protocols?.http?.endpoint !== "0.0.0.0:4318")
        out.push("collector OTLP/HTTP not on 0.0.0.0:4318");
      const procs = cfg.service?.pipelines?.traces?.processors ?? [];
      if (procs[0] !== "memory_limiter") out.push("memory_limiter is not the first traces processor");
      if (!procs.includes("k8sattributes")) out.push("no k8sattributes in the traces pipeline");
      const svc = find(r.objects, "Service", "otel-collector");
      if (!svc) out.push("no Service otel-collector");
      for (const { w, c } of hotpinContainers(r.objects)) {
        const v = containerEnv(c).literal.OTEL_EXPORTER_OTLP_ENDPOINT;
        if (v !== "http://otel-collector:4318") out.push(`${ref(w)}: OTEL_EXPORTER_OTLP_ENDPOINT ${v ?? "unset"}`);
      }
      return out;
    },
  },
  {
    id: "nats",
    doc: "NATS: StatefulSet (Parallel), headless with publishNotReadyAddresses, PVCs, lame-duck preStop, JetStream-aware probes; a cluster has 3 nodes, a PDB, spread over nodes, and 3 replicas of the stream and buckets",
    check: (r) => {
      const sts = find(r.objects, "StatefulSet", "nats") as Workload | undefined;
      if (!sts) return ["no StatefulSet nats"];
      const out: string[] = [];
      const spec = sts.spec;
      const c = spec.template.spec.containers.find((x) => x.name === "nats");
      if (spec.podManagementPolicy !== "Parallel") out.push("podManagementPolicy is not Parallel");
      if (!spec.volumeClaimTemplates?.length) out.push("no volumeClaimTemplates");
      const headless = find(r.objects, "Service", spec.serviceName ?? "")?.spec as
        | { clusterIP?: string; publishNotReadyAddresses?: boolean }
        | undefined;
      if (headless?.clusterIP !== "None" || headless.publishNotReadyAddresses !== true)
        out.push("serviceName is not headless with publishNotReadyAddresses");
      if (!c?.lifecycle?.preStop?.exec?.command?.join(" ").includes("ldm")) out.push("no lame-duck preStop");
      if (!c?.readinessProbe?.httpGet?.path?.includes("js-")) out.push("readiness is not JetStream-aware");
      if (!c?.livenessProbe?.httpGet?.path?.includes("js-")) out.push("liveness is not JetStream-aware");
      const replicas = spec.replicas ?? 1;
      const conf = byKind(r.objects, "ConfigMap").find((x) => x.metadata.name.startsWith("nats-config"));
      const natsConf = (conf?.data as Record<string, string> | undefined)?.["nats.conf"] ?? "";
      const edge = hotpinContainers(r.objects).find((x) => x.facts.name === "edge");
      const storage = hotpinContainers(r.objects).find((x) => x.facts.name === "storage");
      const want = replicas >= 3 ? 3 : 1;
      if (edge && effective(edge.facts, edge.env, "HOTPIN_EDGE_KV_REPLICAS") !== want)
        out.push(`edge KV replicas are not ${want}`);
      if (storage && effective(storage.facts, storage.env, "HOTPIN_STORAGE_EVENTS_REPLICAS") !== want) {
        out.push(`event stream and object store replicas are not ${want}`);
      }
      if (replicas > 1) {
        if (replicas < 3) out.push(`${replicas} servers cannot keep a quorum through a restart`);
        if (!/cluster\s*{/.test(natsConf)) out.push("nats.conf has no cluster block");
        const routes = natsConf.match(/nats:\/\/nats-\d+\.nats-headless:6222/g) ?? [];
        if (routes.length !== replicas) out.push(`nats.conf routes ${routes.length} servers, not ${replicas}`);
        const spread = spec.template.spec.topologySpreadConstraints ?? [];
        if (
          !spread.some((t) => t.topologyKey === "kubernetes.io/hostname" && t.whenUnsatisfiable === "DoNotSchedule")
        ) {
          out.push("servers are not spread over nodes");
        }
      }
      return out.map((m) => `StatefulSet/nats: ${m}`);
    },
  },
  {
    id: "nats-users",
    doc: "each service logs in to NATS as its own user of auth.conf, whose password the server reads from the same Secret key",
    check: (r) => {
      const out: string[] = [];
      const sts = find(r.objects, "StatefulSet", "nats") as Workload | undefined;
      const server = sts?.spec.template.spec.containers.find((c) => c.name === "nats");
      const serverEnv = server ? containerEnv(server).secret : new Map();
      const conf = byKind(r.objects, "ConfigMap").find((x) => x.metadata.name.startsWith("nats-config"));
      const auth = (conf?.data as Record<string, string> | undefined)?.["auth.conf"] ?? "";
      const users = natsUsers(auth);
      for (const { w, c, facts } of hotpinContainers(r.objects)) {
        if (!facts.usesNats) continue;
        const env = containerEnv(c);
        const user = env.literal.HOTPIN_NATS_USER;
        if (!user) {
          out.push(`${ref(w)}: no HOTPIN_NATS_USER (the server admits only its users)`);
          continue;
        }
        const u = users.get(user);
        if (!u) {
          out.push(`${ref(w)}: NATS user ${user} is not in auth.conf`);
          continue;
        }
        const mine = env.secret.get("HOTPIN_NATS_PASSWORD");
        const theirs = serverEnv.get(u.passwordVar);
        if (!theirs) out.push(`StatefulSet/nats: ${u.passwordVar} (user ${user}) is not read from a Secret`);
        else if (!mine || mine.name !== theirs.name || mine.key !== theirs.key)
          out.push(
            `${ref(w)}: HOTPIN_NATS_PASSWORD from ${mine ? `${mine.name}/${mine.key}` : "no Secret"}, the server's ${u.passwordVar} from ${theirs.name}/${theirs.key}`,
          );
      }
      // A component's copy of auth.conf keeps the base's users as they are.
      const base = natsUsers(readFileSync(join(k8sDir, "base", "nats", "auth.conf"), "utf8"));
      for (const [name, u] of base)
        if (users.get(name)?.text !== u.text) out.push(`auth.conf: user ${name} differs from base/nats/auth.conf`);
      return out;
    },
  },
  {
    id: "console",
    doc: "the console: one replica, no autoscaler or PDB, a ClusterIP Service, the edge's token secret, its edge metrics on a headless Service of the edge's metrics port",
    check: (r) => {
      const con = hotpinContainers(r.objects).find((x) => x.facts.name === "console");
      if (!con) return [];
      const out: string[] = [];
      if (con.w.spec.replicas !== 1)
        out.push(`replicas ${con.w.spec.replicas ?? "unset"}: sign-ins are in memory, run exactly 1`);
      if (autoscalers(r.objects).some((a) => a.target === "console")) out.push("an autoscaler targets it");
      const svc = find(r.objects, "Service", "console")?.spec as { type?: string; clusterIP?: string } | undefined;
      if (!svc) out.push("no Service console");
      else if ((svc.type ?? "ClusterIP") !== "ClusterIP") out.push(`Service console is ${svc.type}`);
      const env = containerEnv(con.c);
      const edge = hotpinContainers(r.objects).find((x) => x.facts.name === "edge");
      const mine = env.secret.get("HOTPIN_TOKEN_SECRET");
      const theirs = edge && containerEnv(edge.c).secret.get("HOTPIN_TOKEN_SECRET");
      if (!mine) out.push("no HOTPIN_TOKEN_SECRET: it cannot issue device tokens");
      else if (theirs && (mine.name !== theirs.name || mine.key !== theirs.key))
        out.push(`HOTPIN_TOKEN_SECRET from ${mine.name}/${mine.key}, the edge's from ${theirs.name}/${theirs.key}`);
      const edgeMetrics = edge ? effective(edge.facts, edge.env, "HOTPIN_EDGE_METRICS_PORT") : undefined;
      for (const url of effective(con.facts, con.env, "HOTPIN_CONSOLE_EDGE_METRICS_URLS") as string[]) {
        const m = /^http:\/\/([a-z0-9-]+)(?:\.[a-z0-9.-]+)?:(\d+)\/metrics$/.exec(url);
        const s = m && find(r.objects, "Service", m[1] ?? "");
        const spec = s?.spec as
          | { clusterIP?: string; selector?: Record<string, string>; ports?: { port: number; targetPort?: unknown }[] }
          | undefined;
        if (!m || !spec) out.push(`edge metrics URL ${url} names no Service`);
        else if (spec.clusterIP !== "None") out.push(`edge metrics URL ${url}: Service ${m[1]} is not headless`);
        else if (!edge || !selects(spec.selector, edge.w.spec.template.metadata?.labels))
          out.push(`edge metrics URL ${url}: Service ${m[1]} does not select the edge`);
        else if (
          Number(m[2]) !== edgeMetrics ||
          !spec.ports?.some((p) => p.port === edgeMetrics && portNumber(edge.c, p.targetPort as string) === edgeMetrics)
        )
          out.push(`edge metrics URL ${url}: not the edge's metrics port ${edgeMetrics}`);
      }
      return out.map((m) => `Deployment/console: ${m}`);
    },
  },
  {
    id: "storage-database",
    doc: "storage on SQLite: 1 replica, Recreate, a PVC; on PostgreSQL the URL comes from the operator's Secret",
    check: (r) => {
      const s = hotpinContainers(r.objects).find((x) => x.facts.name === "storage");
      if (!s) return [];
      const env = containerEnv(s.c);
      const out: string[] = [];
      if (env.names.includes("HOTPIN_STORAGE_DATABASE_URL")) {
        if (!env.secret.has("HOTPIN_STORAGE_DATABASE_URL")) out.push("database URL not from a Secret");
        const cluster = byKind(r.objects, "Cluster")[0];
        const secret = env.secret.get("HOTPIN_STORAGE_DATABASE_URL");
        if (cluster && secret?.name !== `${cluster.metadata.name}-app`)
          out.push(`URL from ${secret?.name}, not ${cluster.metadata.name}-app`);
      } else {
        if (minReplicas(s.w, r.objects) !== 1 || autoscalers(r.objects).some((a) => a.target === "storage"))
          out.push("SQLite with more than one replica");
        if (s.w.spec.strategy?.type !== "Recreate") out.push("SQLite without strategy Recreate");
        const data = String(effective(s.facts, s.env, "HOTPIN_STORAGE_DATA_DIR"));
        const mount = (s.c.volumeMounts ?? []).find((m) => data.startsWith(m.mountPath));
        const vol = (s.w.spec.template.spec.volumes ?? []).find((v) => v.name === mount?.name);
        if (!vol?.persistentVolumeClaim) out.push("SQLite data dir not on a PersistentVolumeClaim");
        else if (!find(r.objects, "PersistentVolumeClaim", vol.persistentVolumeClaim.claimName))
          out.push("its claim is not in the manifests");
      }
      return out.map((m) => `Deployment/storage: ${m}`);
    },
  },
  {
    id: "autoscaling",
    doc: "autoscaling on what saturates each service, every target derived from the capacity table",
    check: (r) => {
      const out: string[] = [];
      const metrics = declaredMetrics();
      const targets = capacityTargets();
      for (const a of autoscalers(r.objects).filter((x) => x.kind === "ScaledObject")) {
        const triggers =
          (a.obj.spec as { triggers?: { type: string; metadata: Record<string, string> }[] }).triggers ?? [];
        for (const t of triggers) {
          const threshold = t.metadata.threshold ?? t.metadata.lagThreshold;
          if (t.type === "prometheus") {
            for (const m of t.metadata.query?.match(/hotpin_[a-z0-9_]+/g) ?? [])
              if (!metrics.has(m)) out.push(`${a.name}: query uses ${m}, which no service declares`);
            if (!t.metadata.query?.trim().startsWith("sum("))
              out.push(`${a.name}: query must return one series (sum(...))`);
            if (t.metadata.ignoreNullValues !== "false")
              out.push(`${a.name}: a lost scrape would look like no load (ignoreNullValues)`);
          }
          if (targets.get(a.target) !== threshold)
            out.push(
              `${a.name}: threshold ${threshold} is not the capacity table's ${targets.get(a.target) ?? "(no row)"}`,
            );
        }
      }
      return out;
    },
  },
];

/** Every rule's findings for one rendering, as "rule: finding" lines. */
export function violations(r: Rendering, rules: Rule[] = RULES): string[] {
  return rules.flatMap((rule) => rule.check(r).map((m) => `${rule.id}: ${m}`));
}
