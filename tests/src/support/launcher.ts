// Runs `npm start`'s launcher the way a user does, in its own process group with a fake Groq,
// random ports and its own data folder, and sees every process it starts.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before } from "node:test";
import { freePort, SERVICES } from "@hotpin/mesh";
import { type FakeGroq, startFakeGroq } from "@hotpin/test-support";

export const root = join(__dirname, "..", "..", "..");
export const speech = "/usr/share/pocketsphinx/test/data/goforward.raw";

export interface Launch {
  launcher: ChildProcess;
  env: NodeJS.ProcessEnv;
  /** Every process the launcher started, as seen while it ran. */
  seen: Set<number>;
  output: () => string;
  dataDir: string;
}

/** The parent pid of every process, from /proc. */
function parents(): Map<number, number> {
  const map = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // pid (comm) state ppid …: comm may hold spaces and parentheses, so read after the last ")".
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      map.set(Number(entry), ppid);
    } catch {
      // gone meanwhile
    }
  }
  return map;
}

export function descendants(pid: number): number[] {
  const byParent = parents();
  const found: number[] = [];
  const walk = (p: number) => {
    for (const [child, parent] of byParent) {
      if (parent === p) {
        found.push(child);
        walk(child);
      }
    }
  };
  walk(pid);
  return found;
}

/** Alive and not a zombie waiting to be reaped. */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

let groq: FakeGroq | undefined;
const launched: Launch[] = [];
before(async () => {
  // A language model, so that every process is ready and the launcher prints its summary at once.
  groq = await startFakeGroq();
});
after(async () => {
  // Whatever a failed test left running is not left for the next test file.
  for (const l of launched)
    for (const pid of [l.launcher.pid as number, ...l.seen].filter(alive)) process.kill(pid, "SIGKILL");
  await groq?.close();
});

export async function launch(extraEnv: Record<string, string> = {}): Promise<Launch> {
  const dataDir = mkdtempSync(join(tmpdir(), "hotpin-stop-"));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    GROQ_API_KEY: "test-key",
    GROQ_BASE_URL: groq?.url,
    HOTPIN_DATA_DIR: dataDir,
    HOTPIN_NATS_PORT: String(await freePort()),
    HOTPIN_EDGE_HOST: "127.0.0.1",
    HOTPIN_START_GRACE_MS: "20000",
    ...extraEnv,
  };
  delete env.HOTPIN_NATS_URL;
  for (const s of SERVICES) {
    env[`HOTPIN_${s.env}_PORT`] = String(await freePort());
    env[`HOTPIN_${s.env}_METRICS_PORT`] = String(await freePort());
  }
  // Its own process group, like a job in a terminal: the test sends "Ctrl-C" to the whole group.
  const launcher = spawn(process.execPath, [join(root, "scripts", "start.mjs")], {
    cwd: root,
    env,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  launcher.stdout?.on("data", (d: Buffer) => {
    output = (output + d.toString()).slice(-20_000);
  });
  launcher.stderr?.on("data", (d: Buffer) => {
    output = (output + d.toString()).slice(-20_000);
  });
  const seen = new Set<number>();
  const poll = setInterval(() => {
    if (launcher.pid) for (const pid of descendants(launcher.pid)) seen.add(pid);
  }, 50);
  launcher.once("exit", () => clearInterval(poll));
  const l = { launcher, env, seen, output: () => output, dataDir };
  launched.push(l);
  return l;
}

/** Resolves once the launcher has printed `text`; fails after `ms`. */
export async function printed(l: Launch, text: string, ms = 90_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!l.output().includes(text)) {
    if (Date.now() > deadline) throw new Error(`launcher did not print "${text}" within ${ms} ms:\n${l.output()}`);
    if (l.launcher.exitCode !== null) throw new Error(`launcher exited early:\n${l.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Waits for the launcher to exit (bounded), then for every process it started to be gone. */
export async function nothingLeft(l: Launch, ms: number): Promise<number | null> {
  let code: number | null = l.launcher.exitCode;
  if (code === null && l.launcher.signalCode === null) {
    const timer = setTimeout(() => l.launcher.kill("SIGKILL"), ms);
    [code] = await once(l.launcher, "exit");
    clearTimeout(timer);
  }
  try {
    assert.notEqual(l.launcher.signalCode, "SIGKILL", `launcher still running after ${ms} ms:\n${l.output()}`);
    const left = [...l.seen].filter(alive);
    assert.ok(l.seen.size >= 2, `the launcher started its processes (saw ${l.seen.size})`);
    assert.deepEqual(left, [], `processes left behind:\n${l.output()}`);
    return code;
  } finally {
    for (const pid of [...l.seen].filter(alive)) process.kill(pid, "SIGKILL");
    rmSync(l.dataDir, { recursive: true, force: true });
  }
}

/** What Ctrl-C in a terminal does: SIGINT to every process of the launcher's group. */
export const ctrlC = (l: Launch) => process.kill(-(l.launcher.pid as number), "SIGINT");
