import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { launchNatsServer, type NatsServerProcess } from "@hotpin/mesh";

export interface TestNats extends NatsServerProcess, AsyncDisposable {}

/**
 * A NATS server with JetStream for one test: testcontainers' NATS module when a container
 * runtime answers, otherwise the local `nats-server` binary on a free port with its store in a
 * temporary folder. Dispose with `await using`.
 */
export async function startNats(): Promise<TestNats> {
  if (await containerRuntimeAvailable()) return startNatsContainer();
  const dir = await mkdtemp(join(tmpdir(), "hotpin-nats-"));
  const server = await launchNatsServer({ dataDir: dir });
  return Object.assign(server, {
    async [Symbol.asyncDispose]() {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  });
}

async function containerRuntimeAvailable(): Promise<boolean> {
  if (process.env.HOTPIN_TEST_NO_CONTAINERS === "1") return false;
  try {
    const { getContainerRuntimeClient } = await import("testcontainers");
    await getContainerRuntimeClient();
    return true;
  } catch {
    return false;
  }
}

async function startNatsContainer(): Promise<TestNats> {
  const { NatsContainer } = await import("@testcontainers/nats");
  const image = "nats:2.10-alpine";
  let container = await new NatsContainer(image).withJetStream().start();
  const port = container.getMappedPort(4222);
  return {
    url: `nats://${container.getHost()}:${port}`,
    port,
    async stop() {
      await container.stop();
    },
    async start() {
      container = await new NatsContainer(image)
        .withJetStream()
        .withExposedPorts({ container: 4222, host: port })
        .start();
    },
    async [Symbol.asyncDispose]() {
      await container.stop();
    },
  };
}
