import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Mesh, type MeshOptions, type ServiceName } from "@hotpin/mesh";
import { startNats, type TestNats } from "./nats";

/** The static device token every test mesh accepts. */
export const TEST_DEVICE_TOKEN = "test-device-token";
/** The secret a test mesh signs device JWTs with (`issueToken` of the edge makes tokens it accepts). */
export const TEST_TOKEN_SECRET = "test-token-secret-0123456789abcdef";
/** The operator token of a test mesh's console. */
export const TEST_OPERATOR_TOKEN = "test-operator-token-0123456789";

const WITHOUT_CONSOLE: ServiceName[] = ["storage", "stt", "llm", "tts", "edge"];

export interface TestMeshOptions {
  /** Start only these services (default: all but the console). */
  only?: ServiceName[];
  /** Extra environment for every process, e.g. GROQ_BASE_URL of a fake Groq. */
  env?: Record<string, string>;
  serviceEnv?: MeshOptions["serviceEnv"];
  /** Also start the operator console (services/console); default false. */
  console?: boolean;
  /** Wait for /readyz of every started service (default true). */
  ready?: boolean;
}

export interface TestMesh extends AsyncDisposable {
  mesh: Mesh;
  nats: TestNats;
  /** host:port of a service's main port. */
  address(name: ServiceName): string;
  /** http://127.0.0.1:PORT of the edge; the device socket is at ws://…/ws. */
  edgeUrl: string;
  /** http://127.0.0.1:PORT of the console (when started). */
  consoleUrl: string;
}

/**
 * The real mesh for integration tests: its own NATS, each service built from dist as its own
 * process on free ports, storage in a temporary folder. Set HOTPIN_TEST_LOGS=1 to see the
 * processes' logs. Dispose with `await using`.
 */
export async function startMesh(opts: TestMeshOptions = {}): Promise<TestMesh> {
  const nats = await startNats();
  const dataDir = await mkdtemp(join(tmpdir(), "hotpin-mesh-"));
  const verbose = process.env.HOTPIN_TEST_LOGS === "1";
  let mesh: Mesh | undefined;
  const only = opts.only ?? (opts.console ? [...WITHOUT_CONSOLE, "console"] : WITHOUT_CONSOLE);
  try {
    mesh = await Mesh.start({
      root: repositoryRoot(),
      natsUrl: nats.url,
      dataDir,
      randomPorts: true,
      env: {
        HOTPIN_DEVICE_TOKENS: TEST_DEVICE_TOKEN,
        HOTPIN_TOKEN_SECRET: TEST_TOKEN_SECRET,
        HOTPIN_CONSOLE_OPERATOR_TOKENS: TEST_OPERATOR_TOKEN,
        HOTPIN_LOG_LEVEL: verbose ? "debug" : "warn",
        // The tests check what the real recognizer heard; with a (fake) Groq key, "auto" would
        // take the final from the fake's Whisper instead (services/stt README "Engines").
        HOTPIN_STT_ENGINE: "pocketsphinx",
        // One warm decoder per worker, not one per slot (~90 MB and ~0.5 s each): test meshes
        // start often and rarely run many streams; the soak sets the production default back.
        HOTPIN_STT_WARM_RECOGNIZERS: "1",
        ...opts.env,
      },
      ...(opts.serviceEnv ? { serviceEnv: opts.serviceEnv } : {}),
      only,
      ...(verbose ? { output: (name: string, line: string) => console.error(`[${name}] ${line}`) } : {}),
    });
    if (opts.ready !== false) {
      for (const name of only) await mesh.waitReady(name);
    }
  } catch (err) {
    // Mesh.start stops what it started when it fails; a readiness failure leaves them running.
    await mesh?.stop();
    await nats.stop();
    await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
  const started = mesh;
  return {
    mesh: started,
    nats,
    address: (name) => started.address(name),
    edgeUrl: `http://127.0.0.1:${started.ports.edge.port}`,
    consoleUrl: `http://127.0.0.1:${started.ports.console.port}`,
    async [Symbol.asyncDispose]() {
      await started.stop();
      await nats[Symbol.asyncDispose]();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** packages/test-support/dist → the repository root. */
export function repositoryRoot(): string {
  return resolve(__dirname, "../../..");
}
