import { readFile } from "node:fs/promises";
import { statCpuSeconds } from "@hotpin/test-support";

export interface ProcessSample {
  /** CPU seconds (user + system) the process has used so far. */
  cpuSeconds: number;
  /** Resident set size, KiB. */
  rssKb: number;
  /** performance.now() when sampled. */
  atMs: number;
}

/** CPU time and resident memory of another process, from /proc. */
export async function sampleProcess(pid: number): Promise<ProcessSample> {
  const [stat, status] = await Promise.all([
    readFile(`/proc/${pid}/stat`, "utf8"),
    readFile(`/proc/${pid}/status`, "utf8"),
  ]);
  const rss = /VmRSS:\s+(\d+)\s+kB/.exec(status);
  return { cpuSeconds: statCpuSeconds(stat), rssKb: rss ? Number(rss[1]) : 0, atMs: performance.now() };
}

/** CPU share (1.0 = one core) used between two samples. */
export function cpuShare(a: ProcessSample, b: ProcessSample): number {
  const wall = (b.atMs - a.atMs) / 1000;
  return wall > 0 ? (b.cpuSeconds - a.cpuSeconds) / wall : 0;
}
