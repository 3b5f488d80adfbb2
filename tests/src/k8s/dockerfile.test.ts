import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { repositoryRoot } from "@hotpin/test-support";
import { workloads } from "./objects";
import { k8sDir, render } from "./render";

// No engine can build images here, so the Dockerfile's promises are checked as text: one target
// per Deployment image, one base for build and runtime, numeric non-root user, tini as PID 1,
// node (never npm) running dist/main.js, the native libraries each service needs.
const root = repositoryRoot();
const dockerfile = readFileSync(join(root, "Dockerfile"), "utf8");

interface Stage {
  from: string;
  name: string;
  lines: string[];
}

function stages(text: string): Stage[] {
  const out: Stage[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    const m = /^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/i.exec(line);
    if (m) out.push({ from: m[1] ?? "", name: m[2] ?? "", lines: [] });
    else if (line && !line.startsWith("#")) out.at(-1)?.lines.push(line);
  }
  return out;
}

/** A stage's instructions including those of the stages it is built FROM. */
function lineage(all: Stage[], name: string): string[] {
  const s = all.find((x) => x.name === name);
  if (!s) return [];
  return [...lineage(all, s.from), ...s.lines];
}

const all = stages(dockerfile);
const needs: Record<string, RegExp[]> = {
  stt: [/libpocketsphinx3/, /pocketsphinx-en-us/],
  tts: [/espeak-ng/, /\bsox\b/],
  edge: [],
  llm: [],
  storage: [],
  console: [],
};

test("images - a Dockerfile target for every image the manifests run, and the build script builds them all", () => {
  const images = new Set(
    // The base and the optional console.
    workloads(render(join(k8sDir, "tests", "console-only")))
      .flatMap((w) => w.spec.template.spec.containers.map((c) => c.image ?? ""))
      .filter((i) => i.startsWith("hotpin/"))
      .map((i) => i.slice("hotpin/".length)),
  );
  assert.deepEqual([...images].sort(), Object.keys(needs).sort());
  for (const target of images)
    assert.ok(
      all.some((s) => s.name === target),
      `target ${target}`,
    );
  const script = readFileSync(join(root, "scripts", "build-images.sh"), "utf8");
  assert.match(script, /services="edge stt llm tts storage console"/);
  assert.match(script, /git rev-parse --short=12 HEAD/);
  execFileSync("sh", ["-n", join(root, "scripts", "build-images.sh")]);
});

test("images - build and runtime share one Debian 12 Node 20 base", () => {
  const arg = /^ARG NODE_IMAGE=(\S+)$/m.exec(dockerfile)?.[1];
  assert.match(arg ?? "", /^node:20[.\d]*-bookworm-slim(@sha256:[0-9a-f]+)?$/);
  const bases = all.filter((s) => !all.some((x) => x.name === s.from)).map((s) => s.from);
  // Every stage that is not built on another starts from the one ARG (written ${NODE_IMAGE}).
  assert.deepEqual([...new Set(bases)], ["$" + "{NODE_IMAGE}"]);
});

for (const [target, libs] of Object.entries(needs)) {
  test(`images - ${target}: numeric non-root user, tini as PID 1, node dist/main.js, its native libraries`, () => {
    const lines = lineage(all, target);
    const users = lines.filter((l) => l.startsWith("USER "));
    assert.equal(users.at(-1), "USER 1000:1000", "the last USER is numeric and not root");
    assert.ok(lines.includes('ENTRYPOINT ["/usr/bin/tini", "--"]'), "tini as PID 1");
    const cmd = lines.filter((l) => l.startsWith("CMD ")).at(-1) ?? "";
    assert.match(cmd, /^CMD \["node", .*"dist\/main\.js"\]$/);
    assert.doesNotMatch(cmd, /npm/);
    const installs = lines.filter((l) => /apt-get install/.test(l) || l.startsWith("&&")).join(" ");
    assert.match(installs, /tini/);
    for (const lib of libs) assert.match(installs, lib, `${target} installs ${lib}`);
    assert.ok(
      lines.some((l) => l.startsWith("WORKDIR /app/services/")),
      "runs from its service folder",
    );
  });
}

test("images - .dockerignore keeps local builds, data and git out of the context", () => {
  const ignore = readFileSync(join(root, ".dockerignore"), "utf8").split("\n");
  for (const p of ["**/node_modules", "**/dist", ".data", ".git"]) assert.ok(ignore.includes(p), p);
});
