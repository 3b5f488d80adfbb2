import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { test } from "node:test";

function startFixture(mode: "log" | "stuck", deadlineMs: number): ChildProcess {
  return spawn(process.execPath, [join(__dirname, "testing", "exit-fixture.js"), mode, String(deadlineMs)], {
    stdio: ["ignore", "pipe", "pipe"],
  });
}

/** Resolves the first stdout line that contains `text`, within `ms` (a loaded machine starts Node slowly). */
async function line(child: ChildProcess, text: string, ms = 30_000): Promise<void> {
  let seen = "";
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "${text}" within ${ms} ms: ${seen}`)), ms);
    child.stdout?.on("data", (chunk: Buffer) => {
      seen += chunk.toString();
      if (seen.includes(text)) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}

/** The exit code and signal; fails when the child has not exited within `ms` (it is then killed). */
async function exit(child: ChildProcess, ms: number): Promise<{ code: number | null; signal: string | null }> {
  if (child.exitCode === null && child.signalCode === null) {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        child.kill("SIGKILL");
        reject(new Error(`still running ${ms} ms later`));
      }, ms);
    });
    await Promise.race([once(child, "exit"), timeout]).finally(() => clearTimeout(timer));
  }
  return { code: child.exitCode, signal: child.signalCode };
}

test("runtime - a process whose log reader has gone still exits on SIGTERM", async () => {
  const child = startFixture("log", 30_000);
  await line(child, "ready");
  // What a launcher that died (or a closed terminal) leaves behind: nobody reads stdout any more.
  child.stdout?.destroy();
  child.stderr?.destroy();
  const began = Date.now();
  child.kill("SIGTERM");
  const { code, signal } = await exit(child, 15_000);
  assert.deepEqual({ code, signal }, { code: 0, signal: null }, `exit after ${Date.now() - began} ms`);
});

test("runtime - the shutdown deadline ends a process whose main thread is stuck", async () => {
  const child = startFixture("stuck", 1_500);
  await line(child, "ready");
  child.kill("SIGTERM");
  await line(child, "step blocks the main thread");
  const { signal } = await exit(child, 15_000);
  assert.equal(signal, "SIGKILL");
});

test("runtime - a second signal ends a shutting-down process at once, even with its main thread stuck", async () => {
  const child = startFixture("stuck", 120_000);
  await line(child, "ready");
  child.kill("SIGTERM");
  await line(child, "step blocks the main thread");
  child.kill("SIGTERM");
  // Below the 60 s the step blocks for and the 120 s deadline, with room for a loaded machine.
  const { signal } = await exit(child, 30_000);
  assert.equal(signal, "SIGTERM");
});
