import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";

/** True once `pid` is gone, polling for at most `ms`. */
async function exits(pid: number, ms: number): Promise<boolean> {
  for (const until = Date.now() + ms; Date.now() < until; ) {
    try {
      process.kill(pid, 0);
    } catch {
      return true;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

test("a nats-server dies with the process that launched it, even when that one is SIGKILLed", async () => {
  const dir = await mkdtemp(join(tmpdir(), "hotpin-nats-parent-"));
  try {
    const launcher = spawn(
      process.execPath,
      [
        "-e",
        `require(${JSON.stringify(join(__dirname, "nats-server.js"))})
           .launchNatsServer({ dataDir: ${JSON.stringify(dir)} })
           .then(() => console.log(require("node:fs").readdirSync(${JSON.stringify(dir)}).join(",")))`,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    const [line] = (await once(launcher.stdout, "data")) as [Buffer];
    const pid = Number(/nats-server_(\d+)\.ports/.exec(line.toString())?.[1]);
    assert.ok(pid > 0, `no ports file in ${line}`);
    launcher.kill("SIGKILL");
    assert.ok(await exits(pid, 10_000), `nats-server ${pid} outlived its launcher`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
