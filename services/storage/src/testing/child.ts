import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { TestDatabase } from "./databases";

export interface StorageProcess {
  /** gRPC port, once started. */
  port: number;
  proc: ChildProcess;
  /** Resolves with the first log line (parsed JSON) whose msg equals `msg`. */
  waitForLog(msg: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  kill(signal: NodeJS.Signals): Promise<number | null>;
}

const MAIN = join(__dirname, "..", "main.js");

/** Runs the real service (dist/main.js with telemetry preloaded) as a child process on loopback ports. */
export async function spawnStorage(
  db: TestDatabase,
  natsUrl: string,
  env: Record<string, string> = {},
): Promise<StorageProcess> {
  const proc = spawn(process.execPath, ["--require", "@hotpin/runtime/register", MAIN], {
    cwd: join(__dirname, "..", ".."),
    env: {
      PATH: process.env.PATH,
      HOTPIN_STORAGE_DATABASE_URL: db.url,
      HOTPIN_STORAGE_DATABASE_SCHEMA: db.schema,
      HOTPIN_STORAGE_DATA_DIR: db.dataDir,
      HOTPIN_NATS_URL: natsUrl,
      HOTPIN_STORAGE_HOST: "127.0.0.1",
      HOTPIN_STORAGE_PORT: "0",
      HOTPIN_STORAGE_METRICS_PORT: "0",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const waiters: Array<{ msg: string; resolve: (line: Record<string, unknown>) => void }> = [];
  let stderr = "";
  proc.stderr?.on("data", (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const exited = new Promise<number | null>((resolve) => proc.once("exit", (code) => resolve(code)));
  createInterface({ input: proc.stdout as NodeJS.ReadableStream }).on("line", (text) => {
    let line: Record<string, unknown>;
    try {
      line = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return;
    }
    for (let i = waiters.length - 1; i >= 0; i--) {
      const w = waiters[i];
      if (w && w.msg === line.msg) {
        waiters.splice(i, 1);
        w.resolve(line);
      }
    }
  });
  const waitForLog = (msg: string, timeoutMs = 20_000) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`storage never logged "${msg}"; stderr: ${stderr}`)), timeoutMs);
      waiters.push({
        msg,
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
      });
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`storage exited with ${code} before logging "${msg}"; stderr: ${stderr}`));
      });
    });
  const listening = waitForLog("grpc listening");
  await waitForLog("started");
  const port = Number((await listening).port);
  return {
    port,
    proc,
    waitForLog,
    async kill(signal) {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
}
