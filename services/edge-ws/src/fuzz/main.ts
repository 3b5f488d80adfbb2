import { runFuzz } from "./run";

/**
 * `npm run fuzz -w @hotpin/edge-ws -- [frames per dialect] [seed]`: the long fuzz run; prints its
 * figures as JSON and exits 1 on any finding.
 */
async function main(): Promise<void> {
  const frames = Number(process.argv[2] ?? 100_000);
  const seed = Number(process.argv[3] ?? Date.now() % 2 ** 31);
  const run = await runFuzz({ seed, framesPerDialect: frames, httpRequests: Math.max(500, frames / 50) });
  process.stdout.write(`${JSON.stringify({ seed, ...run }, null, 2)}\n`);
  const bad = run.findings.length + run.bugLines.length + run.healthy.failures + (run.edgeAlive ? 0 : 1);
  process.exitCode = bad > 0 || run.healthy.exchanges === 0 ? 1 : 0;
}

void main();
