import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "@hotpin/test-support";
import { byKind } from "./objects";
import type { KObject } from "./render";

/**
 * Debian's nats-server with the rendered manifests' auth.conf (per-service users and subjects),
 * in `dir`; `passwords` become the NATS_<USER>_PASSWORD variables the config reads.
 */
export async function startNatsWithUsers(
  objects: KObject[],
  dir: string,
  passwords: Record<string, string>,
): Promise<{ url: string; child: ChildProcess; auth: string; stop: () => Promise<void> }> {
  const cm = byKind(objects, "ConfigMap").find((c) => c.metadata.name.startsWith("nats-config"));
  const auth = (cm?.data as Record<string, string> | undefined)?.["auth.conf"];
  assert.ok(auth, "auth.conf in the nats-config ConfigMap");
  const port = await freePort();
  writeFileSync(join(dir, "auth.conf"), auth);
  writeFileSync(
    join(dir, "nats.conf"),
    `host: 127.0.0.1\nport: ${port}\njetstream { store_dir: "${join(dir, "js")}" }\ninclude ./auth.conf\n`,
  );
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const [user, password] of Object.entries(passwords)) env[`NATS_${user.toUpperCase()}_PASSWORD`] = password;
  const child = spawn(process.env.HOTPIN_NATS_SERVER_BIN ?? "nats-server", ["-c", join(dir, "nats.conf")], {
    stdio: ["ignore", "ignore", "pipe"],
    env,
  });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nats-server exited: ${stderr}`);
    if (/Server is ready/.test(stderr)) break;
    if (Date.now() > deadline) throw new Error(`nats-server not ready: ${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `nats://127.0.0.1:${port}`,
    child,
    auth,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}
