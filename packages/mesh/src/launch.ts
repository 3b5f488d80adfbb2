import { type ChildProcess, type SpawnOptions, spawn } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { freePort } from "./ports";
import { SERVICES, type ServiceName, type ServiceSpec } from "./services";

export interface MeshOptions {
  /** Repository root (the folder holding services/). */
  root: string;
  natsUrl: string;
  /** Per-process data (the storage service's database and blobs). */
  dataDir: string;
  /** Pick free ports instead of the documented defaults (tests). */
  randomPorts?: boolean;
  /** Address the edge listens on; the internal services always listen on loopback. */
  edgeHost?: string;
  /** Extra environment for every process. */
  env?: Record<string, string>;
  /** Extra environment per process. */
  serviceEnv?: Partial<Record<ServiceName, Record<string, string>>>;
  /** Start only these (default: all, in start order). */
  only?: ServiceName[];
  /** Each line a process writes; default: dropped. */
  output?: (service: ServiceName, line: string) => void;
  /** Aborting it during start-up stops what has started and rejects. */
  signal?: AbortSignal;
  /** Starts a process (default: node's spawn); tests wrap it, e.g. in a sandbox. */
  spawn?: (service: ServiceName, command: string, args: string[], options: SpawnOptions) => ChildProcess;
}

export interface Ports {
  port: number;
  metricsPort: number;
}

/** How one process ended when the mesh stopped. */
export interface Stopped {
  name: ServiceName;
  pid: number | undefined;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The launcher had to SIGKILL it: still running when the grace ran out. */
  killed: boolean;
}

export interface StopOptions {
  /** How long the processes have, all together, before whatever is left is killed. */
  graceMs?: number;
  /** Each process has had its signal already (Ctrl-C reaches the whole process group): only wait. */
  signalled?: boolean;
}

/** The mesh's processes: each service as its own Node process speaking real gRPC and NATS. */
export class Mesh {
  private readonly children = new Map<ServiceName, ChildProcess>();
  private readonly tails = new Map<ServiceName, string[]>();

  private constructor(
    private readonly opts: MeshOptions,
    readonly ports: Record<ServiceName, Ports>,
  ) {}

  static async start(opts: MeshOptions): Promise<Mesh> {
    const ports = {} as Record<ServiceName, Ports>;
    const setting = (name: string, fallback: number) => Number(opts.env?.[name] ?? process.env[name] ?? fallback);
    for (const s of SERVICES) {
      ports[s.name] = opts.randomPorts
        ? { port: await freePort(), metricsPort: await freePort() }
        : {
            port: setting(`HOTPIN_${s.env}_PORT`, s.port),
            metricsPort: setting(`HOTPIN_${s.env}_METRICS_PORT`, s.metricsPort),
          };
    }
    const mesh = new Mesh(opts, ports);
    try {
      for (const s of mesh.selected()) {
        opts.signal?.throwIfAborted();
        await mesh.startService(s.name);
      }
    } catch (err) {
      await mesh.stop();
      throw err;
    }
    return mesh;
  }

  /** host:port of a service's main port on loopback. */
  address(name: ServiceName): string {
    return `127.0.0.1:${this.ports[name].port}`;
  }

  /** The process id of a running service. */
  pid(name: ServiceName): number | undefined {
    return this.children.get(name)?.pid;
  }

  /** The last lines a service wrote, for failure messages. */
  tail(name: ServiceName): string {
    return (this.tails.get(name) ?? []).join("\n");
  }

  async startService(name: ServiceName): Promise<void> {
    const spec = SERVICES.find((s) => s.name === name);
    if (!spec) throw new Error(`unknown service ${name}`);
    const launch = this.opts.spawn ?? ((_, command, args, options) => spawn(command, args, options));
    const child = launch(
      name,
      process.execPath,
      ["--enable-source-maps", "--require", "@hotpin/runtime/register", "dist/main.js"],
      {
        cwd: join(this.opts.root, spec.dir),
        env: this.environment(spec),
        // Its own process group, so that Ctrl-C reaches only the launcher, which stops the mesh in
        // order; its stdin is a pipe from this process, so that it stops when the launcher is gone.
        detached: true,
        stdio: ["pipe", "pipe", "pipe"],
      },
    );
    this.children.set(name, child);
    const tail: string[] = [];
    this.tails.set(name, tail);
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue;
      createInterface({ input: stream }).on("line", (line) => {
        tail.push(line);
        if (tail.length > 50) tail.shift();
        this.opts.output?.(name, line);
      });
    }
    await this.waitLive(name, child);
  }

  /** Sends the signal and waits for the exit; resolves the exit code (null when killed by a signal). */
  async stopService(name: ServiceName, signal: NodeJS.Signals = "SIGTERM", timeoutMs = 30_000): Promise<number | null> {
    const child = this.children.get(name);
    this.children.delete(name);
    if (!child) return null;
    if (running(child)) child.kill(signal);
    if (!(await exitWithin(child, timeoutMs))) {
      child.kill("SIGKILL");
      await exitWithin(child, KILL_WAIT_MS);
    }
    return child.exitCode;
  }

  /**
   * Stops every process and resolves once each has exited: SIGTERM to each in turn, the edge
   * first so that it drains while the services behind it still answer; SIGKILL for whatever is
   * still running when the grace runs out.
   */
  async stop({ graceMs = 30_000, signalled = false }: StopOptions = {}): Promise<Stopped[]> {
    const deadline = Date.now() + graceMs;
    const order = [...SERVICES].reverse().flatMap((s) => {
      const child = this.children.get(s.name);
      return child ? [{ name: s.name, child }] : [];
    });
    if (!signalled) {
      for (const { child } of order) {
        if (running(child)) child.kill("SIGTERM");
        await exitWithin(child, deadline - Date.now());
      }
    }
    await Promise.all(order.map(({ child }) => exitWithin(child, deadline - Date.now())));
    return Promise.all(
      order.map(async ({ name, child }) => {
        const killed = running(child);
        if (killed) {
          child.kill("SIGKILL");
          await exitWithin(child, KILL_WAIT_MS);
        }
        if (this.children.get(name) === child) this.children.delete(name);
        return { name, pid: child.pid, code: child.exitCode, signal: child.signalCode, killed };
      }),
    );
  }

  /** SIGKILL to every process still running, and wait for them: the forced stop (also in the middle of stop()). */
  async kill(): Promise<Stopped[]> {
    return this.stop({ graceMs: 0, signalled: true });
  }

  /** Polls the service's /readyz until every dependency check passes. */
  async waitReady(name: ServiceName, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = "";
    while (Date.now() < deadline) {
      const child = this.children.get(name);
      if (!child || child.exitCode !== null) throw new Error(`${name} exited:\n${this.tail(name)}`);
      try {
        const res = await fetch(`http://127.0.0.1:${this.ports[name].metricsPort}/readyz`);
        last = await res.text();
        if (res.ok) return;
      } catch (err) {
        last = (err as Error).message;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${name} not ready after ${timeoutMs} ms: ${last}\n${this.tail(name)}`);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  private selected(): ServiceSpec[] {
    return SERVICES.filter((s) => !this.opts.only || this.opts.only.includes(s.name));
  }

  /** Waits until the metrics port answers /livez: the process has started its runtime. */
  private async waitLive(name: ServiceName, child: ChildProcess, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      this.opts.signal?.throwIfAborted();
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`${name} exited with ${child.exitCode ?? child.signalCode} at start-up:\n${this.tail(name)}`);
      }
      try {
        const res = await fetch(`http://127.0.0.1:${this.ports[name].metricsPort}/livez`);
        if (res.ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${name} did not start within ${timeoutMs} ms:\n${this.tail(name)}`);
  }

  private environment(spec: ServiceSpec): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...process.env, ...this.opts.env };
    for (const s of SERVICES) {
      env[`HOTPIN_${s.env}_PORT`] = String(this.ports[s.name].port);
      env[`HOTPIN_${s.env}_METRICS_PORT`] = String(this.ports[s.name].metricsPort);
      if (s.name !== "edge") env[`HOTPIN_${s.env}_ADDRESS`] = this.address(s.name);
    }
    env[`HOTPIN_${spec.env}_HOST`] = spec.name === "edge" ? (this.opts.edgeHost ?? "127.0.0.1") : "127.0.0.1";
    env.HOTPIN_NATS_URL = this.opts.natsUrl;
    env.HOTPIN_STOP_ON_STDIN_CLOSE = "true";
    env.HOTPIN_STORAGE_DATA_DIR ??= join(this.opts.dataDir, "storage");
    env.OTEL_SERVICE_NAME = `hotpin-${spec.name}`;
    Object.assign(env, this.opts.serviceEnv?.[spec.name]);
    return env;
  }
}

/** Time a SIGKILLed process gets to be reaped. */
const KILL_WAIT_MS = 5_000;

function running(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** Resolves true once the process has exited, false if it is still running after `ms`. */
function exitWithin(child: ChildProcess, ms: number): Promise<boolean> {
  if (!running(child)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (exited: boolean) => {
      clearTimeout(timer);
      child.off("exit", onExit);
      resolve(exited);
    };
    const onExit = () => done(true);
    const timer = setTimeout(() => done(!running(child)), Math.max(0, ms));
    child.once("exit", onExit);
  });
}
