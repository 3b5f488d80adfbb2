import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { test } from "node:test";
import { health } from "@hotpin/contracts";
import { grpc } from "@hotpin/runtime";

/** Runs dist/main.js as deployed; resolves the gRPC port from its "grpc listening" log line. */
async function runMain(env: Record<string, string>) {
  const child = spawn(process.execPath, ["--require", "@hotpin/runtime/register", join(__dirname, "main.js")], {
    cwd: join(__dirname, ".."),
    env: { ...process.env, HOTPIN_TTS_PORT: "0", HOTPIN_TTS_METRICS_PORT: "0", HOTPIN_LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines = createInterface({ input: child.stdout });
  let port = 0;
  for await (const line of lines) {
    const entry = JSON.parse(line) as { msg?: string; port?: number };
    if (entry.msg === "grpc listening") port = entry.port ?? 0;
    if (entry.msg === "started") break;
  }
  child.stdout.resume();
  assert.ok(port > 0, "no port logged");
  const checker = new health.HealthClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const status = () =>
    new Promise<health.HealthCheckResponse_ServingStatus>((resolve, reject) =>
      checker.check({ service: "hotpin.tts.v1.TextToSpeech" }, (err, res) => (err ? reject(err) : resolve(res.status))),
    );
  return { child, status, close: () => checker.close() };
}

test("tts main - serves health that follows the engine and exits 0 on SIGTERM", async () => {
  const ok = await runMain({});
  try {
    assert.equal(await ok.status(), health.HealthCheckResponse_ServingStatus.SERVING);
  } finally {
    ok.close();
  }
  ok.child.kill("SIGTERM");
  const [code] = await once(ok.child, "exit");
  assert.equal(code, 0);

  const broken = await runMain({ HOTPIN_TTS_ESPEAK_BIN: "/nonexistent/espeak-ng" });
  try {
    assert.equal(await broken.status(), health.HealthCheckResponse_ServingStatus.NOT_SERVING);
  } finally {
    broken.close();
    broken.child.kill("SIGTERM");
    await once(broken.child, "exit");
  }
});

test("tts main - refuses to start with bad settings, naming each", async () => {
  const child = spawn(process.execPath, [join(__dirname, "main.js")], {
    env: { ...process.env, HOTPIN_TTS_MAX_CONCURRENT: "0", HOTPIN_TTS_RATE_WPM: "fast" },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const [code] = await once(child, "exit");
  assert.equal(code, 1);
  assert.match(stderr, /HOTPIN_TTS_MAX_CONCURRENT/);
  assert.match(stderr, /HOTPIN_TTS_RATE_WPM/);
});
