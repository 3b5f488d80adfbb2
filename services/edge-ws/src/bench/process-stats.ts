import { readFile } from "node:fs/promises";

/** Linux clock ticks per second for /proc/<pid>/stat (USER_HZ is 100 on every mainstream kernel). */
const TICKS_PER_SECOND = 100;

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
  // Fields after the command name (which may hold spaces) start at ")"; utime and stime are the
  // 14th and 15th fields of the line, the 12th and 13th after the name.
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(rest[11]) + Number(rest[12]);
  const rss = /VmRSS:\s+(\d+)\s+kB/.exec(status);
  return { cpuSeconds: ticks / TICKS_PER_SECOND, rssKb: rss ? Number(rss[1]) : 0, atMs: performance.now() };
}

/** CPU share (1.0 = one core) used between two samples. */
export function cpuShare(a: ProcessSample, b: ProcessSample): number {
  const wall = (b.atMs - a.atMs) / 1000;
  return wall > 0 ? (b.cpuSeconds - a.cpuSeconds) / wall : 0;
}
