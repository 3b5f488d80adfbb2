/** Linux clock ticks per second of /proc's utime and stime (USER_HZ is 100 on every mainstream kernel). */
const TICKS_PER_SECOND = 100;

/**
 * CPU seconds (user + system) in the text of a /proc/<pid>/stat or /proc/<pid>/task/<tid>/stat
 * file. Fields after the command name (which may hold spaces) start at ")"; utime and stime
 * are the 14th and 15th fields of the line, the 12th and 13th after the name.
 */
export function statCpuSeconds(stat: string): number {
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}
