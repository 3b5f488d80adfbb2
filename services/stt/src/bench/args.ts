/** The bench tools' command-line flags (`--json`, `--streams 4`). */
const argv = process.argv.slice(2);

export const hasFlag = (flag: string): boolean => argv.includes(flag);

/** The value after `flag`, or `dflt` when it is absent; anything but a positive integer is refused. */
export function positiveIntFlag(flag: string, dflt: number): number {
  const i = argv.indexOf(flag);
  const v = i >= 0 ? Number(argv[i + 1]) : dflt;
  if (!Number.isInteger(v) || v <= 0) throw new Error(`${flag} must be a positive integer`);
  return v;
}

/** The value after `flag`, if it is given. */
export const stringFlag = (flag: string): string | undefined =>
  hasFlag(flag) ? argv[argv.indexOf(flag) + 1] : undefined;
