import { type ChildProcess, execFileSync, type SpawnOptions, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname } from "node:path";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";

/** What a pod gives a container: its uid, its writable mounts, nothing else. */
export interface PodConstraints {
  uid: number;
  gid: number;
  /** Writable mount paths in the pod (its volumeMounts); /tmp becomes a fresh tmpfs. */
  writable: { path: string; hostDir?: string }[];
  /** The host folder playing the image (the checkout): kept visible, read-only, even where a
   * writable mount covers it — a clone under /tmp would otherwise vanish under the pod's /tmp. */
  image?: string;
}

export function bwrapAvailable(): boolean {
  try {
    execFileSync("bwrap", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/**
 * bubblewrap arguments for a pod's constraints: the host's root read-only, a user namespace in
 * which the process is `uid`:`gid`, every capability dropped, and only the pod's writable
 * mounts writable. A mount point the host lacks (/var/lib/hotpin/storage) is made on a tmpfs
 * over its nearest existing parent, which is then remounted read-only. Host networking stays,
 * so the sandboxed services reach each other on loopback as pods do on the pod network.
 */
export function bwrapArgs(c: PodConstraints, cwd: string): string[] {
  const args = ["--unshare-user", "--uid", String(c.uid), "--gid", String(c.gid), "--cap-drop", "ALL"];
  args.push("--unshare-ipc", "--die-with-parent", "--new-session");
  args.push("--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc");
  const remount: string[] = [];
  for (const m of c.writable) {
    if (m.path === "/tmp") {
      args.push("--tmpfs", "/tmp");
      continue;
    }
    if (!m.hostDir) throw new Error(`writable mount ${m.path} needs a host folder`);
    if (!existsSync(m.path)) {
      let parent = dirname(m.path);
      while (!existsSync(parent)) parent = dirname(parent);
      args.push("--tmpfs", parent);
      remount.push(parent);
    }
    args.push("--bind", m.hostDir, m.path);
  }
  for (const p of remount) args.push("--remount-ro", p);
  if (c.image) args.push("--ro-bind", c.image, c.image);
  args.push("--chdir", cwd);
  return args;
}

/**
 * Spawns `command` inside the sandbox. bubblewrap does not forward signals, so the returned
 * child's kill() signals the sandboxed process itself (its pid from --json-status-fd): SIGTERM
 * reaches the service and it drains as it would in a pod.
 */
export function spawnSandboxed(
  c: PodConstraints,
  command: string,
  args: string[],
  options: SpawnOptions,
): ChildProcess {
  const cwd = String(options.cwd ?? process.cwd());
  const child = spawn("bwrap", [...bwrapArgs(c, cwd), "--json-status-fd", "3", "--", command, ...args], {
    ...options,
    stdio: ["ignore", "pipe", "pipe", "pipe"],
  });
  let inner: number | undefined;
  let pending: NodeJS.Signals | undefined;
  createInterface({ input: child.stdio[3] as Readable }).on("line", (line) => {
    const status = JSON.parse(line) as { "child-pid"?: number };
    if (status["child-pid"]) {
      inner = status["child-pid"];
      if (pending) process.kill(inner, pending);
    }
  });
  const killBwrap = child.kill.bind(child);
  child.kill = (signal: NodeJS.Signals | number = "SIGTERM") => {
    const sig = typeof signal === "number" ? "SIGTERM" : signal;
    if (sig === "SIGKILL") return killBwrap("SIGKILL");
    if (inner === undefined) pending = sig;
    else {
      try {
        process.kill(inner, sig);
      } catch {
        return false;
      }
    }
    return true;
  };
  return child;
}
