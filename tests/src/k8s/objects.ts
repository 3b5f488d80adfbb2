import type { IContainer } from "kubernetes-models/v1/Container";
import type { IPodSpec } from "kubernetes-models/v1/PodSpec";
import type { KObject } from "./render";

/** A Deployment or StatefulSet, with the parts the rules read. */
export interface Workload extends KObject {
  spec: {
    replicas?: number;
    selector: { matchLabels?: Record<string, string> };
    strategy?: { type?: string; rollingUpdate?: { maxUnavailable?: number | string } };
    podManagementPolicy?: string;
    serviceName?: string;
    volumeClaimTemplates?: unknown[];
    template: { metadata?: { labels?: Record<string, string> }; spec: IPodSpec };
  };
}

export function workloads(objects: KObject[]): Workload[] {
  return objects.filter((o): o is Workload => o.kind === "Deployment" || o.kind === "StatefulSet");
}

export function byKind<T extends KObject = KObject>(objects: KObject[], kind: string): T[] {
  return objects.filter((o) => o.kind === kind) as T[];
}

export function find(objects: KObject[], kind: string, name: string): KObject | undefined {
  return objects.find((o) => o.kind === kind && o.metadata.name === name);
}

/** The environment a container starts with: literal values, and where the others come from. */
export interface ContainerEnv {
  literal: Record<string, string>;
  secret: Map<string, { name: string; key: string; optional: boolean }>;
  other: Set<string>;
  names: string[];
}

export function containerEnv(c: IContainer): ContainerEnv {
  const env: ContainerEnv = { literal: {}, secret: new Map(), other: new Set(), names: [] };
  for (const e of c.env ?? []) {
    env.names.push(e.name);
    if (e.value !== undefined) env.literal[e.name] = e.value;
    else if (e.valueFrom?.secretKeyRef) {
      const r = e.valueFrom.secretKeyRef;
      env.secret.set(e.name, { name: r.name ?? "", key: r.key, optional: r.optional === true });
    } else env.other.add(e.name);
  }
  return env;
}

/**
 * The environment as the service would see it, with a stand-in for each value a Secret or the
 * downward API provides (the rules check where those come from separately).
 */
export function resolvedEnv(c: IContainer): Record<string, string> {
  const env = containerEnv(c);
  const out: Record<string, string> = { ...env.literal };
  for (const [name, ref] of env.secret) {
    if (ref.optional) continue;
    out[name] = name.endsWith("DATABASE_URL")
      ? "postgres://hotpin:secret@hotpin-db-rw:5432/hotpin"
      : "a-value-from-a-secret-0123456789";
  }
  for (const name of env.other) out[name] = "from-the-downward-api";
  return out;
}

export interface Autoscaler {
  kind: "HorizontalPodAutoscaler" | "ScaledObject";
  name: string;
  target: string;
  min: number;
  obj: KObject;
}

export function autoscalers(objects: KObject[]): Autoscaler[] {
  const out: Autoscaler[] = [];
  for (const o of objects) {
    const spec = o.spec as Record<string, unknown> | undefined;
    if (o.kind === "HorizontalPodAutoscaler") {
      const ref = spec?.scaleTargetRef as { name: string };
      out.push({
        kind: o.kind,
        name: o.metadata.name,
        target: ref.name,
        min: (spec?.minReplicas as number) ?? 1,
        obj: o,
      });
    } else if (o.kind === "ScaledObject") {
      const ref = spec?.scaleTargetRef as { name: string };
      out.push({
        kind: o.kind,
        name: o.metadata.name,
        target: ref.name,
        min: (spec?.minReplicaCount as number) ?? 0,
        obj: o,
      });
    }
  }
  return out;
}

/** The fewest replicas a workload can run with: its autoscaler's minimum, or its replicas. */
export function minReplicas(w: Workload, objects: KObject[]): number {
  const a = autoscalers(objects).filter((x) => x.target === w.metadata.name);
  if (a.length > 0) return Math.min(...a.map((x) => x.min));
  return w.spec.replicas ?? 1;
}

export function selects(selector: Record<string, string> | undefined, labels: Record<string, string> | undefined) {
  if (!selector || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}
