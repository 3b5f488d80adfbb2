import { readFileSync } from "node:fs";
import { join } from "node:path";
import { readConfig, type Setting } from "@hotpin/runtime";
import { repositoryRoot } from "@hotpin/test-support";

type Settings = Record<string, Setting<unknown>>;

/** What the manifests are checked against, per service: read from the code, not restated. */
export interface ServiceFacts {
  /** Container and Deployment name. */
  name: string;
  dir: string;
  /** The service's settings table (its config module's declarations). */
  settings: Settings;
  /** HOTPIN_<prefix>_PORT / _METRICS_PORT / _HOST. */
  prefix: string;
  /** Settings naming folders the service writes to; each must be on a writable volume. */
  writePaths: string[];
  /** Starts slowly (engines, migrations): needs a startupProbe. */
  slowStart: boolean;
  /** Connects to NATS (the others carry the runtime's NATS settings without using them). */
  usesNats: boolean;
  /** The README, whose settings table must list every variable a manifest sets. */
  readme: string;
  /** The service's own reader when it checks more than each setting (required ones, defaults). */
  read?: (env: Record<string, string>) => Record<string, unknown>;
}

const root = repositoryRoot();
function settingsOf(dir: string, file: string, name: string): Settings {
  return require(join(root, dir, "dist", file))[name] as Settings;
}
function readme(dir: string): string {
  return readFileSync(join(root, dir, "README.md"), "utf8");
}

export const SERVICES: ServiceFacts[] = [
  {
    name: "edge",
    dir: "services/edge-ws",
    file: "config.js",
    exp: "edgeSettings",
    prefix: "EDGE",
    writePaths: ["HOTPIN_EDGE_SPILL_DIR"],
    slowStart: false,
    usesNats: true,
  },
  {
    name: "stt",
    dir: "services/stt",
    file: "settings.js",
    exp: "sttSettings",
    prefix: "STT",
    writePaths: [],
    slowStart: true,
    usesNats: false,
  },
  {
    name: "llm",
    dir: "services/llm",
    file: "config.js",
    exp: "llmSettings",
    prefix: "LLM",
    writePaths: [],
    slowStart: false,
    usesNats: false,
  },
  {
    name: "tts",
    dir: "services/tts",
    file: "config.js",
    exp: "ttsSettings",
    prefix: "TTS",
    writePaths: [],
    slowStart: false,
    usesNats: false,
  },
  {
    name: "storage",
    dir: "services/storage",
    file: "config.js",
    exp: "storageSettings",
    prefix: "STORAGE",
    writePaths: ["HOTPIN_STORAGE_DATA_DIR"],
    slowStart: true,
    usesNats: true,
  },
  {
    // Optional: deploy/k8s/components/console.
    name: "console",
    dir: "services/console",
    file: "config.js",
    exp: "consoleSettings",
    reader: "readConsoleConfig",
    prefix: "CONSOLE",
    writePaths: [],
    slowStart: false,
    usesNats: true,
  },
].map(
  ({
    file,
    exp,
    reader,
    ...s
  }: { file: string; exp: string; reader?: string } & Omit<ServiceFacts, "settings" | "readme">) => ({
    ...s,
    settings: settingsOf(s.dir, file, exp),
    readme: readme(s.dir),
    ...(reader ? { read: require(join(root, s.dir, "dist", file))[reader] as ServiceFacts["read"] } : {}),
  }),
);

/**
 * Variables a container may set that are not in a settings table: the standard OpenTelemetry
 * ones the runtime's SDK reads (docs/developing.md) and Node's own.
 */
export const STANDARD_ENV = new Set([
  "OTEL_SERVICE_NAME",
  "OTEL_EXPORTER_OTLP_ENDPOINT",
  "OTEL_RESOURCE_ATTRIBUTES",
  "NODE_OPTIONS",
]);

export function settingFor(facts: ServiceFacts, env: string): Setting<unknown> | undefined {
  return Object.values(facts.settings).find((s) => s.env === env);
}

/** The service's configuration as it would start with this environment; throws ConfigError. */
export function effectiveConfig(facts: ServiceFacts, env: Record<string, string>): Record<string, unknown> {
  return facts.read ? facts.read(env) : readConfig(facts.settings, env);
}

/** The effective value of one setting by its variable name. */
export function effective(facts: ServiceFacts, env: Record<string, string>, name: string): unknown {
  const setting = settingFor(facts, name);
  if (!setting) throw new Error(`${facts.name} has no setting ${name}`);
  const raw = env[name];
  return setting.read(raw === "" ? undefined : raw);
}

/** Metric names the services declare (prom-client `name: "…"`), for autoscaler queries. */
export function declaredMetrics(): Set<string> {
  const names = new Set<string>();
  for (const s of SERVICES) {
    for (const file of ["metrics.ts"]) {
      let text = "";
      try {
        text = readFileSync(join(root, s.dir, "src", file), "utf8");
      } catch {
        continue;
      }
      for (const m of text.matchAll(/name:\s*"(hotpin_[a-z0-9_]+)"/g)) if (m[1]) names.add(m[1]);
    }
  }
  return names;
}

/** The paths the runtime's metrics server answers (packages/runtime/src/metrics.ts). */
export function healthPaths(): Set<string> {
  const text = readFileSync(join(root, "packages", "runtime", "src", "metrics.ts"), "utf8");
  return new Set([...text.matchAll(/path === "(\/[a-z]+)"/g)].map((m) => m[1] ?? ""));
}
