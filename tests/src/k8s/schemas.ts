import type { Model } from "@kubernetes-models/base";
import type { KObject } from "./render";

type ModelClass = new (data: never) => Model<unknown>;

/**
 * The model of every kind the manifests may hold: core kinds from kubernetes-models 4.5 (the
 * Kubernetes 1.33 OpenAPI schema), CRD kinds from their projects' published schemas. A kind that
 * is not listed fails the check: nothing goes unvalidated.
 */
const MODELS: Record<string, () => ModelClass> = {
  "v1/Namespace": () => require("kubernetes-models/v1/Namespace").Namespace,
  "v1/ConfigMap": () => require("kubernetes-models/v1/ConfigMap").ConfigMap,
  "v1/Secret": () => require("kubernetes-models/v1/Secret").Secret,
  "v1/Service": () => require("kubernetes-models/v1/Service").Service,
  "v1/ServiceAccount": () => require("kubernetes-models/v1/ServiceAccount").ServiceAccount,
  "v1/PersistentVolumeClaim": () => require("kubernetes-models/v1/PersistentVolumeClaim").PersistentVolumeClaim,
  "apps/v1/Deployment": () => require("kubernetes-models/apps/v1/Deployment").Deployment,
  "apps/v1/StatefulSet": () => require("kubernetes-models/apps/v1/StatefulSet").StatefulSet,
  "autoscaling/v2/HorizontalPodAutoscaler": () =>
    require("kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler").HorizontalPodAutoscaler,
  "policy/v1/PodDisruptionBudget": () => require("kubernetes-models/policy/v1/PodDisruptionBudget").PodDisruptionBudget,
  "networking.k8s.io/v1/NetworkPolicy": () =>
    require("kubernetes-models/networking.k8s.io/v1/NetworkPolicy").NetworkPolicy,
  "networking.k8s.io/v1/Ingress": () => require("kubernetes-models/networking.k8s.io/v1/Ingress").Ingress,
  "rbac.authorization.k8s.io/v1/ClusterRole": () =>
    require("kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole").ClusterRole,
  "rbac.authorization.k8s.io/v1/ClusterRoleBinding": () =>
    require("kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding").ClusterRoleBinding,
  "keda.sh/v1alpha1/ScaledObject": () => require("@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject").ScaledObject,
  "monitoring.coreos.com/v1/PodMonitor": () =>
    require("@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor").PodMonitor,
  "monitoring.coreos.com/v1/PrometheusRule": () =>
    require("@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule").PrometheusRule,
  "postgresql.cnpg.io/v1/Cluster": () =>
    require("@kubernetes-models/cloudnative-pg/postgresql.cnpg.io/v1/Cluster").Cluster,
  "gateway.networking.k8s.io/v1/HTTPRoute": () =>
    require("@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRoute").HTTPRoute,
};

/** Kinds that exist on every cluster; anything else needs a CRD and belongs in a component. */
export const CORE_GROUPS = new Set(["v1", "apps/v1", "autoscaling/v2", "policy/v1", "networking.k8s.io/v1"]);
export function isCoreKind(o: KObject): boolean {
  return CORE_GROUPS.has(o.apiVersion) || o.apiVersion === "rbac.authorization.k8s.io/v1";
}

/** Schema errors of one object; empty when it validates. */
export function schemaErrors(o: KObject): string[] {
  const model = MODELS[`${o.apiVersion}/${o.kind}`];
  if (!model) return [`no schema known for ${o.apiVersion} ${o.kind}: add its model to tests/src/k8s/schemas.ts`];
  try {
    const Ctor = model();
    new Ctor(o as never).validate();
    return [];
  } catch (err) {
    return [(err as Error).message];
  }
}
