// `npm start`: the whole mesh on this machine on embedded defaults — a local nats-server with
// JetStream, then storage, STT, LLM, TTS and the edge, each its own process on real gRPC and
// NATS, with one combined, prefixed log. Ctrl-C stops everything.
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { networkInterfaces } from "node:os";
import { join } from "node:path";
import { root, setup } from "./setup.mjs";

setup();

const require = createRequire(import.meta.url);
const { Mesh, SERVICES, launchNatsServer, portIsFree, freePort } = require("@hotpin/mesh");

const dataDir = process.env.HOTPIN_DATA_DIR ?? join(root, ".data");
mkdirSync(dataDir, { recursive: true });

/** A secret kept in the data folder so that devices keep working across restarts. */
function persistent(name) {
  const file = join(dataDir, name);
  if (!existsSync(file)) writeFileSync(file, randomBytes(24).toString("base64url"), { mode: 0o600 });
  return readFileSync(file, "utf8").trim();
}

const colours = { nats: 90, storage: 35, stt: 36, llm: 33, tts: 32, edge: 34, console: 94 };
function print(service, line) {
  const tag = `\x1b[${colours[service] ?? 0}m[${service.padEnd(7)}]\x1b[0m`;
  try {
    const { level, msg, time, service: _s, pid: _p, name: _n, hostname: _h, ...rest } = JSON.parse(line);
    const lvl = { 10: "trace", 20: "debug", 30: "info", 40: "warn", 50: "error", 60: "fatal" }[level] ?? level;
    const fields = Object.keys(rest).length ? ` ${JSON.stringify(rest)}` : "";
    console.log(`${tag} ${lvl} ${msg}${fields}`);
  } catch {
    console.log(`${tag} ${line}`);
  }
}

const token = process.env.HOTPIN_DEVICE_TOKENS?.split(",")[0] ?? persistent("device-token");
const operatorToken = process.env.HOTPIN_CONSOLE_OPERATOR_TOKENS?.split(",")[0] ?? persistent("operator-token");
const env = {
  HOTPIN_DEVICE_TOKENS: process.env.HOTPIN_DEVICE_TOKENS ?? token,
  HOTPIN_TOKEN_SECRET: process.env.HOTPIN_TOKEN_SECRET ?? persistent("token-secret"),
  HOTPIN_CONSOLE_OPERATOR_TOKENS: process.env.HOTPIN_CONSOLE_OPERATOR_TOKENS ?? operatorToken,
  // This script prints the device token itself, once, in its summary.
  HOTPIN_EDGE_PRINT_TOKEN: process.env.HOTPIN_EDGE_PRINT_TOKEN ?? "false",
};

let nats;
let natsUrl = process.env.HOTPIN_NATS_URL;
if (!natsUrl) {
  const wanted = Number(process.env.HOTPIN_NATS_PORT ?? 4222);
  const port = (await portIsFree(wanted)) ? wanted : await freePort();
  if (port !== wanted) print("nats", `port ${wanted} is taken; using ${port}`);
  nats = await launchNatsServer({ dataDir: join(dataDir, "nats"), port });
  natsUrl = nats.url;
  print("nats", `nats-server with JetStream on ${natsUrl} (data in ${join(dataDir, "nats")})`);
}

// Nothing the launcher prints may stop it: with its output gone (a closed terminal, a dead pipe
// reader) it must still stop every process it started.
for (const stream of [process.stdout, process.stderr]) stream.on("error", () => {});

/** Seconds the processes have, together, to exit after Ctrl-C before the rest is killed. */
const graceMs = Number(process.env.HOTPIN_START_GRACE_MS ?? 30_000);
const starting = new AbortController();
let started;
let mesh;
let stopping;
let stoppingSince = 0;
function report(stopped) {
  for (const s of stopped ?? []) {
    if (s.killed) console.log(`killed ${s.name} (pid ${s.pid}): still running ${graceMs / 1000} s after SIGTERM`);
    else if (s.signal === "SIGKILL")
      console.log(`${s.name} (pid ${s.pid}) was killed: its own shutdown deadline passed`);
  }
}
async function stop(code) {
  // npm forwards the terminal's Ctrl-C to this process too: a repeat within a second is the same one.
  if (stopping && Date.now() - stoppingSince < 1_000) return;
  if (stopping) {
    console.log("second Ctrl-C: killing what is left");
    report(await mesh?.kill());
    await nats?.stop("SIGKILL");
    process.exit(1);
  }
  stoppingSince = Date.now();
  stopping = (async () => {
    console.log("\nstopping the mesh…");
    if (!mesh && started) {
      // Still starting: abort, and the launch stops what it had started.
      starting.abort();
      await started.catch(() => {});
    }
    report(await mesh?.stop({ graceMs }));
    await nats?.stop();
    process.exit(code);
  })();
}
process.on("SIGINT", () => void stop(0));
process.on("SIGTERM", () => void stop(0));
process.on("SIGHUP", () => void stop(0));

started = Mesh.start({
  root,
  natsUrl,
  dataDir,
  edgeHost: process.env.HOTPIN_EDGE_HOST ?? "0.0.0.0",
  env,
  output: print,
  signal: starting.signal,
});
try {
  mesh = await started;
} catch (err) {
  if (!stopping) {
    console.error(`\nthe mesh did not start: ${err.message}`);
    await stop(1);
  }
  await stopping; // it exits the process
}

const rows = await Promise.all(
  SERVICES.map(async (s) => {
    const ready = await mesh.waitReady(s.name, 20_000).then(
      () => "ready",
      (err) => `NOT READY: ${err.message.split("\n")[0]}`,
    );
    return `  ${s.name.padEnd(8)} :${mesh.ports[s.name].port}  metrics :${mesh.ports[s.name].metricsPort}/metrics  ${ready}`;
  }),
);
const lan =
  Object.values(networkInterfaces())
    .flat()
    .find((a) => a && a.family === "IPv4" && !a.internal)?.address ?? "127.0.0.1";
const edge = mesh.ports.edge.port;
// The console listens on loopback: browsers allow the microphone (virtual device) only there or over HTTPS.
const consoleUrl = `http://localhost:${mesh.ports.console.port}`;
console.log(`
HotPin Mesh is running (Ctrl-C stops everything).
${rows.join("\n")}

Operator console   ${consoleUrl}   operator token  ${operatorToken}   (kept in ${join(dataDir, "operator-token")})

Point a device at the edge:
  firmware dialect   ws://${lan}:${edge}/ws   with header  Authorization: Bearer ${token}
  spec dialect       ws://${lan}:${edge}/ws?session=<device-id>&token=${token}
  camera upload      POST http://${lan}:${edge}/image  (same token)
  xiaozhi-esp32      OTA URL http://${lan}:${edge}/xiaozhi/ota/  (the device reads out a code; bind it in the console's
                     Activation page or with  HOTPIN_NATS_URL=${natsUrl} node services/edge-ws/dist/cli.js activate <code>)
  Sesame-style       ws://${lan}:${edge}/agent-service-0/v1/connect  with id_token = a device token (console: Activation)
  simulate a device  node packages/sim/dist/cli.js --url ws://127.0.0.1:${edge} --token=${token} --out reply.wav <speech.wav>
No language model is configured unless GROQ_API_KEY or HOTPIN_LLM_OPENAI_BASE_URL is set; the device then hears that.
`);
