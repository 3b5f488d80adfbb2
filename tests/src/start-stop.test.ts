// `npm start` stopped at awkward moments: during start-up, mid-utterance, by a supervisor's
// SIGTERM, or with the launcher killed outright. No process of the mesh may be left behind.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { alive, ctrlC, descendants, launch, nothingLeft, printed, root, speech } from "./support/launcher";

test("start - Ctrl-C during start-up stops what had started", async () => {
  const l = await launch();
  await printed(l, "[storage");
  ctrlC(l);
  await nothingLeft(l, 60_000);
});

test("start - Ctrl-C while a device is mid-utterance stops every process", async () => {
  const l = await launch();
  await printed(l, "HotPin Mesh is running");
  const token = readFileSync(join(l.dataDir, "device-token"), "utf8").trim();
  const device = spawn(
    process.execPath,
    [
      join(root, "packages/sim/dist/cli.js"),
      `--url=ws://127.0.0.1:${l.env.HOTPIN_EDGE_PORT}`,
      `--token=${token}`,
      speech,
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  try {
    // Once the device has streamed some audio, the utterance is in flight.
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("the device printed nothing within 30 s")), 30_000);
      device.stdout?.once("data", () => {
        clearTimeout(timer);
        resolve();
      });
    });
    await new Promise((r) => setTimeout(r, 1_000));
    ctrlC(l);
    assert.equal(await nothingLeft(l, 60_000), 0);
  } finally {
    device.kill("SIGKILL");
  }
});

test("start - SIGTERM to the launcher alone stops every process", async () => {
  const l = await launch();
  await printed(l, "HotPin Mesh is running");
  l.launcher.kill("SIGTERM");
  assert.equal(await nothingLeft(l, 60_000), 0);
});

test("start - the processes stop by themselves when the launcher is killed outright", async () => {
  const l = await launch();
  await printed(l, "HotPin Mesh is running");
  const started = descendants(l.launcher.pid as number);
  l.launcher.kill("SIGKILL");
  await once(l.launcher, "exit");
  // The services see their stdin close and shut down within their own deadline. nats-server, a
  // plain child of the launcher, is not ours to change: the test ends it.
  const services = started.filter((pid) => readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("dist/main.js"));
  assert.ok(services.length >= 5, `services seen: ${services.length}`);
  const deadline = Date.now() + 60_000;
  while (services.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  try {
    assert.deepEqual(services.filter(alive), [], "services still running a minute after the launcher died");
  } finally {
    for (const pid of started.filter(alive)) process.kill(pid, "SIGKILL");
    rmSync(l.dataDir, { recursive: true, force: true });
  }
});
