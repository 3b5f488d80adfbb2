// `npm test`: installs what is missing, builds, checks that the generated contracts match the
// protos, lints, then runs every workspace's tests and closes with one "N passed, N failed" line.
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { root, setup } from "./setup.mjs";

setup({ forTests: true });

function step(name, cmd, args) {
  console.log(`[test] ${name}`);
  const r = spawnSync(cmd, args, { stdio: "inherit", cwd: root });
  if (r.status !== 0) {
    console.error(`[test] ${name} failed`);
    console.log("0 passed, 1 failed");
    process.exit(1);
  }
}

if (existsSync(join(root, ".git"))) {
  step("contracts match the protos", "sh", [
    "-c",
    "npm run --silent gen && git diff --exit-code --stat -- packages/contracts/src/gen",
  ]);
}
step("lint and format", join(root, "node_modules/.bin/biome"), ["check", "."]);

const counts = { pass: 0, fail: 0, skipped: 0, cancelled: 0, todo: 0 };
const turbo = spawn(
  join(root, "node_modules/.bin/turbo"),
  ["run", "test", "--continue", "--concurrency=1", "--env-mode=loose", ...process.argv.slice(2)],
  {
    cwd: root,
    env: { ...process.env, TURBO_TELEMETRY_DISABLED: "1", FORCE_COLOR: "0" },
    stdio: ["ignore", "pipe", "inherit"],
  },
);
let pending = "";
turbo.stdout.on("data", (chunk) => {
  process.stdout.write(chunk);
  const lines = (pending + chunk.toString()).split("\n");
  pending = lines.pop() ?? "";
  for (const line of lines) {
    const m = /ℹ (pass|fail|skipped|cancelled|todo) (\d+)\s*$/.exec(line);
    if (m) counts[m[1]] += Number(m[2]);
  }
});
const code = await new Promise((resolve) => turbo.on("close", resolve));
const failed = counts.fail + counts.cancelled + (code !== 0 && counts.fail + counts.cancelled === 0 ? 1 : 0);
console.log(`\n${counts.pass} passed, ${failed} failed, ${counts.skipped + counts.todo} skipped`);
process.exit(code === 0 && failed === 0 ? 0 : 1);
