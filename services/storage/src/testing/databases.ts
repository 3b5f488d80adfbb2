import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";

/** One database for one test run: where it is, and how to remove it afterwards. */
export interface TestDatabase extends AsyncDisposable {
  name: "sqlite" | "postgres";
  /** HOTPIN_STORAGE_DATABASE_URL */
  url: string;
  /** HOTPIN_STORAGE_DATABASE_SCHEMA: a fresh schema per run on PostgreSQL. */
  schema: string;
  dataDir: string;
}

export async function sqliteDatabase(): Promise<TestDatabase> {
  const dataDir = await mkdtemp(join(tmpdir(), "hotpin-storage-"));
  return {
    name: "sqlite",
    url: "",
    schema: "",
    dataDir,
    async [Symbol.asyncDispose]() {
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

const LOCAL_PG = process.env.HOTPIN_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";

/**
 * PostgreSQL for a test run: a testcontainers container when a container runtime answers,
 * otherwise the server at HOTPIN_TEST_POSTGRES_URL (default 127.0.0.1:5432, database test).
 * When neither is reachable this rejects with a message saying so: the test fails, never skips.
 * Each run gets its own schema, dropped at the end.
 */
export async function postgresDatabase(): Promise<TestDatabase> {
  const dataDir = await mkdtemp(join(tmpdir(), "hotpin-storage-pg-"));
  const server = await postgresServer();
  const schema = `hotpin_test_${randomBytes(6).toString("hex")}`;
  return {
    name: "postgres",
    url: server.url,
    schema,
    dataDir,
    async [Symbol.asyncDispose]() {
      const client = new pg.Client({ connectionString: server.url });
      try {
        await client.connect();
        await client.query(`drop schema if exists ${schema} cascade`);
      } finally {
        await client.end().catch(() => {});
        await server.stop();
        await rm(dataDir, { recursive: true, force: true });
      }
    },
  };
}

async function postgresServer(): Promise<{ url: string; stop(): Promise<void> }> {
  if (process.env.HOTPIN_TEST_NO_CONTAINERS !== "1") {
    const container = await startContainer().catch(() => undefined);
    if (container) return container;
  }
  const client = new pg.Client({ connectionString: LOCAL_PG, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    await client.query("select 1");
  } catch (err) {
    throw new Error(
      `PostgreSQL tests need a database: no container runtime answered and ${LOCAL_PG.replace(/\/\/[^@]*@/, "//")} ` +
        `is not reachable (${(err as Error).message}). Start PostgreSQL or set HOTPIN_TEST_POSTGRES_URL.`,
    );
  } finally {
    await client.end().catch(() => {});
  }
  return { url: LOCAL_PG, stop: async () => {} };
}

async function startContainer(): Promise<{ url: string; stop(): Promise<void> }> {
  const { GenericContainer, Wait, getContainerRuntimeClient } = await import("testcontainers");
  await getContainerRuntimeClient();
  const container = await new GenericContainer("postgres:16-alpine")
    .withEnvironment({ POSTGRES_HOST_AUTH_METHOD: "trust", POSTGRES_DB: "test" })
    .withExposedPorts(5432)
    .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections/, 2))
    .start();
  return {
    url: `postgres://postgres@${container.getHost()}:${container.getMappedPort(5432)}/test`,
    stop: async () => {
      await container.stop();
    },
  };
}
