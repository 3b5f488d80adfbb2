import { spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TestNats extends AsyncDisposable {
  /** nats://127.0.0.1:PORT */
  url: string;
  port: number;
  /** Stops the server (as a crash would, or gracefully) keeping its data; `start()` brings it back on the same port. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  start(): Promise<void>;
}

/**
 * A NATS server with JetStream for one test: testcontainers' NATS module when a container
 * runtime answers, otherwise the local `nats-server` binary on a free port with its store in a
 * temporary folder. Dispose with `await using`.
 */
export async function startNats(): Promise<TestNats> {
  if (await containerRuntimeAvailable()) return startNatsContainer();
  return startNatsBinary();
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
  let container = await new NatsContainer("nats:2.10-alpine").withJetStream().start();
  const port = container.getMappedPort(4222);
  return {
    url: `nats://${container.getHost()}:${port}`,
    port,
    async stop() {
      await container.stop();
    },
    async start() {
      container = await new NatsContainer("nats:2.10-alpine").withJetStream().start();
    },
    async [Symbol.asyncDispose]() {
      await container.stop();
    },
  };
}

export function natsBinary(): string {
  return process.env.HOTPIN_NATS_SERVER_BIN ?? "nats-server";
}

async function startNatsBinary(): Promise<TestNats> {
  const dir = await mkdtemp(join(tmpdir(), "hotpin-nats-"));
  let port = 0;
  let child: ReturnType<typeof spawn> | undefined;

  const launch = async () => {
    const args = ["-a", "127.0.0.1", "-p", String(port || -1), "-js", "-sd", join(dir, "js"), "--ports_file_dir", dir];
    const proc = spawn(natsBinary(), args, { stdio: ["ignore", "ignore", "pipe"] });
    child = proc;
    let stderr = "";
    proc.stderr?.on("data", (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    const failed = new Promise<never>((_, reject) => {
      proc.once("error", (err) =>
        reject(new Error(`cannot run ${natsBinary()} (install Debian's nats-server): ${err.message}`)),
      );
      proc.once("exit", (code) => reject(new Error(`nats-server exited with ${code}: ${stderr}`)));
    });
    port = await Promise.race([readPort(dir, proc.pid ?? 0, port), failed]);
    proc.removeAllListeners("exit");
  };

  const stop = async (signal: NodeJS.Signals = "SIGTERM") => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      proc.once("exit", () => resolve());
      proc.kill(signal);
    });
  };

  await launch();
  return {
    get url() {
      return `nats://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    stop,
    start: launch,
    async [Symbol.asyncDispose]() {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The server writes its chosen ports to `<name>_<pid>.ports` once it listens. */
async function readPort(dir: string, pid: number, fixed: number): Promise<number> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const file = (await readdir(dir)).find((f) => f.endsWith(`_${pid}.ports`));
    if (file) {
      const ports = JSON.parse(await readFile(join(dir, file), "utf8")) as { nats?: string[] };
      const url = ports.nats?.[0];
      if (url) return Number(new URL(url).port);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  if (fixed) return fixed;
  throw new Error("nats-server did not report its port within 10 s");
}
