import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface RunResult {
  ok: boolean;
  output: string;
}

/** Runs a tool with a bounded time; never throws for a non-zero exit (the output says why). */
export async function tool(cmd: string, args: string[], cwd?: string, timeoutMs = 60_000): Promise<RunResult> {
  try {
    const { stdout, stderr } = await run(cmd, args, { cwd, timeout: timeoutMs, maxBuffer: 32 << 20 });
    return { ok: true, output: stdout + stderr };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    return { ok: false, output: `${e.stdout ?? ""}${e.stderr ?? ""}${e.message}` };
  }
}

/** Why a tool the test needs is missing (for a printed skip), or undefined when it is there. */
export async function missingTool(cmd: string, versionArgs: string[]): Promise<string | undefined> {
  const r = await tool(cmd, versionArgs, undefined, 20_000);
  return r.ok ? undefined : `${cmd} is not installed (${r.output.split("\n")[0]})`;
}
