import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { repositoryRoot } from "@hotpin/test-support";
import { parseAllDocuments } from "yaml";

/** A rendered Kubernetes object: only what every object has is typed; the rest is per kind. */
export interface KObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

export const k8sDir = join(repositoryRoot(), "deploy", "k8s");
const MIN_MINOR = 27;

/**
 * The kubectl on PATH (or $KUBECTL), checked once: kustomize components and `labels` need the
 * kustomize 5 that kubectl 1.27+ embeds (Debian's kubectl 1.20 rejects them).
 */
export function kubectl(): string {
  const bin = process.env.KUBECTL ?? "kubectl";
  let out: string;
  try {
    out = execFileSync(bin, ["version", "--client", "-o", "json"], { encoding: "utf8" });
  } catch (err) {
    throw new Error(
      `kubectl not found (${bin}): the manifest checks render with kubectl ≥ 1.${MIN_MINOR} (kustomize 5). ` +
        "Install it (https://kubernetes.io/docs/tasks/tools/) or set KUBECTL.",
      { cause: err },
    );
  }
  const version = JSON.parse(out).clientVersion as { major: string; minor: string; gitVersion: string };
  const minor = Number.parseInt(version.minor, 10);
  if (version.major !== "1" || !(minor >= MIN_MINOR)) {
    throw new Error(
      `kubectl ${version.gitVersion} is too old: components and labels need kubectl ≥ 1.${MIN_MINOR} (kustomize 5)`,
    );
  }
  return bin;
}

/** `kubectl kustomize DIR`, parsed. A render error fails with kustomize's own message. */
export function render(dir: string): KObject[] {
  let out: string;
  try {
    out = execFileSync(kubectl(), ["kustomize", dir], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? "";
    throw new Error(`kubectl kustomize ${dir} failed: ${stderr.trim()}`, { cause: err });
  }
  return parseObjects(out);
}

export function parseObjects(text: string): KObject[] {
  return parseAllDocuments(text)
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`bad YAML: ${doc.errors[0]?.message}`);
      return doc.toJS() as KObject | null;
    })
    .filter((o): o is KObject => o !== null);
}

export function ref(o: KObject): string {
  return `${o.kind}/${o.metadata.name}`;
}
