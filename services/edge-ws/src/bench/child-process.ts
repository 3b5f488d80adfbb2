import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";

/** A process the benchmark started, with the last lines it wrote (for failure messages). */
export interface BenchChild {
  readonly proc: ChildProcess;
  readonly pid: number;
  tail(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves on exit. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<void>;
}

export function spawnNode(args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv }): BenchChild {
  const proc = spawn(process.execPath, args, { cwd: opts.cwd, env: opts.env, stdio: ["ignore", "pipe", "pipe"] });
  const lines: string[] = [];
  for (const stream of [proc.stdout, proc.stderr]) {
    createInterface({ input: stream }).on("line", (line) => {
      lines.push(line);
      if (lines.length > 40) lines.shift();
    });
  }
  return {
    proc,
    pid: proc.pid ?? 0,
    tail: () => lines.join("\n"),
    async stop(signal = "SIGTERM", graceMs = 10_000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
      proc.kill(signal);
      const timer = setTimeout(() => proc.kill("SIGKILL"), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Resolves the first stdout line matching `re` (e.g. a "listening <port>" line). */
export function waitForLine(child: BenchChild, re: RegExp, timeoutMs = 20_000): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: child.proc.stdout as NodeJS.ReadableStream });
    const timer = setTimeout(
      () => done(new Error(`no line matching ${re} within ${timeoutMs} ms:\n${child.tail()}`)),
      timeoutMs,
    );
    const onExit = () => done(new Error(`process exited before printing ${re}:\n${child.tail()}`));
    const done = (err: Error | undefined, m?: RegExpMatchArray) => {
      clearTimeout(timer);
      rl.close();
      child.proc.off("exit", onExit);
      if (err) reject(err);
      else resolve(m as RegExpMatchArray);
    };
    child.proc.once("exit", onExit);
    rl.on("line", (line) => {
      const m = re.exec(line);
      if (m) done(undefined, m);
    });
  });
}

/** Polls `url` until it answers 2xx, the process exits, or the time is up. */
export async function waitHttpOk(url: string, child: BenchChild, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.proc.exitCode !== null) throw new Error(`process exited at start-up:\n${child.tail()}`);
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} not answering after ${timeoutMs} ms:\n${child.tail()}`);
}
