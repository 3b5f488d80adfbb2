import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { createRegistry } from "@hotpin/runtime";
import { OBSERVABILITY, ROOT } from "./paths";

/** Where the processes' metrics are declared: every non-test source file of the services and packages. */
const SOURCE_DIRS = ["services", "packages"];
const DECLARATION = /\bname:\s*"(hotpin_[a-z0-9_]+)"/g;

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    if (entry === "node_modules" || entry === "dist" || entry === "gen" || entry === "testing") continue;
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...sources(path));
    else if (/\.ts$/.test(entry) && !/\.test(-util)?\.ts$/.test(entry)) out.push(path);
  }
  return out;
}

/**
 * Every metric family a HotPin process exports, with where it is declared: the prom-client
 * declarations in the sources (`name: "hotpin_…"`) and the process metrics every registry
 * collects (@hotpin/runtime's createRegistry).
 */
export async function exportedMetrics(): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const top of SOURCE_DIRS) {
    for (const file of sources(join(ROOT, top))) {
      for (const m of readFileSync(file, "utf8").matchAll(DECLARATION)) {
        if (m[1]) out.set(m[1], relative(ROOT, file));
      }
    }
  }
  for (const m of await createRegistry("inventory").getMetricsAsJSON()) {
    out.set(m.name, "prom-client default metrics (packages/runtime/src/metrics.ts)");
  }
  return out;
}

export const UNUSED_FILE = join(OBSERVABILITY, "unused-metrics.txt");

/** deploy/observability/unused-metrics.txt: `name  reason` per line, # comments. */
export function deliberatelyUnused(): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of readFileSync(UNUSED_FILE, "utf8").split("\n")) {
    const text = line.trim();
    if (!text || text.startsWith("#")) continue;
    const [name = "", ...reason] = text.split(/\s+/);
    out.set(name, reason.join(" "));
  }
  return out;
}
