import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile } from "node:fs/promises";
import { join } from "node:path";

export interface NatsServerProcess {
  /** nats://HOST:PORT */
  readonly url: string;
  readonly port: number;
  /** Stops the server, keeping its data; SIGKILL to simulate a crash. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port with the same data. */
  start(): Promise<void>;
}

export interface NatsServerOptions {
  /** Holds the JetStream store and the ports file. */
  dataDir: string;
  /** 0 lets the server pick a free port. */
  port?: number;
  host?: string;
  binary?: string;
}

const SETPRIV = "/usr/bin/setpriv";

export function natsServerBinary(): string {
  return process.env.HOTPIN_NATS_SERVER_BIN ?? "nats-server";
}

/** Runs Debian's `nats-server` with JetStream in `dataDir`. */
export async function launchNatsServer(opts: NatsServerOptions): Promise<NatsServerProcess> {
  const host = opts.host ?? "127.0.0.1";
  const binary = opts.binary ?? natsServerBinary();
  await mkdir(opts.dataDir, { recursive: true });
  let port = opts.port ?? 0;
  let child: ChildProcess | undefined;

  const start = async () => {
    const args = ["-a", host, "-p", String(port || -1), "-js", "-sd", join(opts.dataDir, "jetstream")];
    // Its own process group: Ctrl-C reaches only the launcher, which stops the server last, after the
    // services that publish to it have drained.
    // ...and it dies with its launcher (util-linux setpriv sets the parent-death signal, kept across
    // exec), so a test file killed on timeout or a crashed launcher leaves no server behind.
    const [command, prefix]: [string, string[]] = existsSync(SETPRIV)
      ? [SETPRIV, ["--pdeathsig", "KILL", "--", binary]]
      : [binary, []];
    const proc = spawn(command, [...prefix, ...args, "--ports_file_dir", opts.dataDir], {
      detached: true,
      stdio: ["ignore", "ignore", "pipe"],
    });
    child = proc;
    let stderr = "";
    proc.stderr?.on("data", (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    const failed = new Promise<never>((_, reject) => {
      proc.once("error", (err) => reject(new Error(`cannot run ${binary}: ${err.message}`)));
      proc.once("exit", (code) => reject(new Error(`nats-server exited with ${code}: ${stderr.trim()}`)));
    });
    port = await Promise.race([readPort(opts.dataDir, proc.pid ?? 0), failed]);
    proc.removeAllListeners("exit");
    proc.removeAllListeners("error");
  };

  const stop = async (signal: NodeJS.Signals = "SIGTERM") => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      // A server that does not stop on its own within 10 s is killed: stop() always returns.
      const timer = setTimeout(() => proc.kill("SIGKILL"), 10_000);
      proc.once("exit", () => {
        clearTimeout(timer);
        resolve();
      });
      proc.kill(signal);
    });
  };

  await start();
  return {
    get url() {
      return `nats://${host}:${port}`;
    },
    get port() {
      return port;
    },
    stop,
    start,
  };
}

/** The server writes the ports it listens on to `<name>_<pid>.ports` once it is up. */
async function readPort(dir: string, pid: number): Promise<number> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const file = (await readdir(dir)).find((f) => f.endsWith(`_${pid}.ports`));
    if (file) {
      const ports = JSON.parse(await readFile(join(dir, file), "utf8")) as { nats?: string[] };
      const url = ports.nats?.[0];
      if (url) return Number(new URL(url).port);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error("nats-server did not report its port within 15 s");
}
