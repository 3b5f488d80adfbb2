// Installs what is missing so that `npm start` and `npm test` work on a fresh clone:
// Debian packages (as root with apt; otherwise prints the exact command), npm dependencies,
// the build. Safe to run again: each step does nothing when its work is already done.
import { spawnSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const root = join(dirname(fileURLToPath(import.meta.url)), "..");

/** What the mesh and its tests need from Debian. */
export const DEBIAN_PACKAGES = [
  "nats-server",
  "espeak-ng",
  "sox",
  "pocketsphinx",
  "pocketsphinx-en-us",
  "pocketsphinx-testdata",
  "libpocketsphinx3",
  "libsphinxbase3",
  // Opus for the xiaozhi dialect (packages/audio binds libopus.so.0 through koffi).
  "libopus0",
  // better-sqlite3 builds from source here.
  "python3",
  "make",
  "g++",
];

/** What only the tests need on top: a real Prometheus (promtool), bubblewrap for the pod-constraint
 * test, Chromium for the browser tests, opus-tools to make and check Opus audio. */
export const TEST_DEBIAN_PACKAGES = ["prometheus", "bubblewrap", "chromium", "opus-tools"];

function say(msg) {
  console.log(`[setup] ${msg}`);
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: "inherit", cwd: root, ...opts });
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(" ")} failed with ${r.status ?? r.signal}`);
  }
}

function missingDebianPackages(packages) {
  return packages.filter((pkg) => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a dpkg-query format, not a template
    const r = spawnSync("dpkg-query", ["-W", "-f=${Status}", pkg], { encoding: "utf8" });
    return r.status !== 0 || !r.stdout.includes("install ok installed");
  });
}

export function ensureDebianPackages(packages = DEBIAN_PACKAGES) {
  if (!existsSync("/usr/bin/dpkg-query")) {
    say(`not a Debian system: install these yourself: ${packages.join(" ")}`);
    return;
  }
  const missing = missingDebianPackages(packages);
  if (missing.length === 0) return;
  const command = `apt-get update && apt-get install -y --no-install-recommends ${missing.join(" ")}`;
  if (process.getuid?.() !== 0) {
    console.error(`[setup] missing Debian packages; run as root:\n  sudo sh -c '${command}'`);
    process.exit(1);
  }
  say(`installing ${missing.join(" ")}`);
  run("sh", ["-c", command], { env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
}

/** npm writes node_modules/.package-lock.json on every install; older than the lock means stale. */
export function ensureNpmDependencies() {
  const installed = join(root, "node_modules", ".package-lock.json");
  if (existsSync(installed) && statSync(installed).mtimeMs >= statSync(join(root, "package-lock.json")).mtimeMs) return;
  // Not `npm ci`: see .ci/run for why the lock file cannot satisfy it here.
  say("installing npm dependencies");
  run("npm", ["install", "--no-audit", "--no-fund"]);
}

export function build() {
  say("building");
  run(join(root, "node_modules/.bin/turbo"), ["run", "build", "--output-logs=errors-only"], {
    env: { ...process.env, TURBO_TELEMETRY_DISABLED: "1" },
  });
}

export function setup({ forTests = false } = {}) {
  ensureDebianPackages(forTests ? [...DEBIAN_PACKAGES, ...TEST_DEBIAN_PACKAGES] : DEBIAN_PACKAGES);
  ensureNpmDependencies();
  build();
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    setup();
  } catch (err) {
    console.error(`[setup] ${err.message}`);
    process.exit(1);
  }
}
