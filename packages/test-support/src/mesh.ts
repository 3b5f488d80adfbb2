import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Mesh, type MeshOptions, type ServiceName } from "@hotpin/mesh";
import { startNats, type TestNats } from "./nats";

/** The static device token every test mesh accepts. */
export const TEST_DEVICE_TOKEN = "test-device-token";

export interface TestMeshOptions {
  /** Start only these services (default: all). */
  only?: ServiceName[];
  /** Extra environment for every process, e.g. GROQ_BASE_URL of a fake Groq. */
  env?: Record<string, string>;
  serviceEnv?: MeshOptions["serviceEnv"];
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
  try {
    mesh = await Mesh.start({
      root: repositoryRoot(),
      natsUrl: nats.url,
      dataDir,
      randomPorts: true,
      env: {
        HOTPIN_DEVICE_TOKENS: TEST_DEVICE_TOKEN,
        HOTPIN_TOKEN_SECRET: "test-token-secret-0123456789abcdef",
        HOTPIN_LOG_LEVEL: verbose ? "debug" : "warn",
        // The tests check what the real recognizer heard; with a (fake) Groq key, "auto" would
        // take the final from the fake's Whisper instead (services/stt README "Engines").
        HOTPIN_STT_ENGINE: "pocketsphinx",
        ...opts.env,
      },
      ...(opts.serviceEnv ? { serviceEnv: opts.serviceEnv } : {}),
      ...(opts.only ? { only: opts.only } : {}),
      ...(verbose ? { output: (name: string, line: string) => console.error(`[${name}] ${line}`) } : {}),
    });
    if (opts.ready !== false) {
      for (const name of opts.only ?? (["storage", "stt", "llm", "tts", "edge"] as const)) await mesh.waitReady(name);
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
