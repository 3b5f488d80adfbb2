// `npm start` stopped with Ctrl-C as a user does: once, twice, with the launcher's output gone.
// Whatever the way, no process of the mesh may be left behind.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ctrlC, launch, nothingLeft, printed } from "./support/launcher";

test("start - Ctrl-C stops every process of the mesh", async () => {
  const l = await launch();
  await printed(l, "HotPin Mesh is running");
  ctrlC(l);
  assert.equal(await nothingLeft(l, 60_000), 0);
});

test("start - Ctrl-C twice (a second later) kills what is left at once and leaves nothing", async () => {
  // Every service waits 60 s after failing readiness: the first Ctrl-C alone would take that long.
  const l = await launch({ HOTPIN_SHUTDOWN_DELAY_MS: "60000", HOTPIN_START_GRACE_MS: "90000" });
  await printed(l, "HotPin Mesh is running");
  ctrlC(l);
  await printed(l, "stopping the mesh");
  await new Promise((r) => setTimeout(r, 1_200));
  ctrlC(l);
  await printed(l, "second Ctrl-C: killing what is left");
  // Far below the 60 s drain delay: the second Ctrl-C did not wait for it.
  await nothingLeft(l, 15_000);
});

test("start - Ctrl-C after the launcher's output reader has gone still stops every process", async () => {
  const l = await launch();
  await printed(l, "HotPin Mesh is running");
  // A closed terminal or a dead `| tee`: every write of the launcher now fails.
  l.launcher.stdout?.destroy();
  l.launcher.stderr?.destroy();
  ctrlC(l);
  assert.equal(await nothingLeft(l, 60_000), 0);
});
