// Storage's memory under the soak's load (issue 13), without the rest of the mesh: the real service
// as a child process, fed a fleet's events through JetStream and the RPCs an edge makes per
// conversation (start and end a session, read the recent turns, append two turns), at the soak's
// rate. Prints the child's resident memory and V8 heap once a minute and the growth after warm-up.
//   npm run soak -w @hotpin/storage -- [--minutes 12] [--devices 100] [--speed 1] [--postgres] [--json]
// `--speed N` runs N times the soak's rate (growth per event and growth per minute then tell apart).
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { events, storage } from "@hotpin/contracts";
import { createGrpcClient, ensureEventStream, eventSubject } from "@hotpin/runtime";
import { freePort, startNats } from "@hotpin/test-support";
import { jetstream } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { spawnStorage } from "./testing/child";
import { call } from "./testing/client";
import { postgresDatabase, sqliteDatabase } from "./testing/databases";

const argv = process.argv.slice(2);
const num = (flag: string, dflt: number) => {
  const i = argv.indexOf(flag);
  const v = i >= 0 ? Number(argv[i + 1]) : dflt;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${flag} must be a positive number`);
  return v;
};
const MINUTES = num("--minutes", 12);
const DEVICES = Math.round(num("--devices", 100));
const SPEED = num("--speed", 1);
const json = argv.includes("--json");
/** As the soak: memory is compared from the end of the warm-up (a fifth of the run, at most 2 minutes). */
const WARMUP_MS = Math.min(120_000, (MINUTES * 60_000) / 5);
/** A soak device's cycle: a connection with two utterances (~10 s) and a 10 s rest. */
const CYCLE_MS = 20_000 / SPEED;
const progress = (line: string) => process.stderr.write(`# ${line}\n`);

/** A field of /proc/<pid>/status in bytes (VmRSS, RssAnon, RssFile). */
function statusBytes(pid: number, field: string): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) * 1024 : Number.NaN;
}
const rssBytes = (pid: number) => statusBytes(pid, "VmRSS");

/** The main thread's V8 heap (used, total) and memory outside it (external), from the service's /metrics. */
async function heap(metricsPort: number): Promise<{ used: number; total: number; external: number }> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const gauge = (name: string) =>
    Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, "m").exec(text)?.[1] ?? Number.NaN);
  return {
    used: gauge("hotpin_nodejs_heap_size_used_bytes"),
    total: gauge("hotpin_nodejs_heap_size_total_bytes"),
    external: gauge("hotpin_nodejs_external_memory_bytes"),
  };
}

/** The events of one soak conversation (firmware dialect, two utterances), in the edge's order. */
function conversation(deviceId: string, sessionId: string, n: number): events.Event[] {
  type Payload = NonNullable<events.Event["payload"]>;
  const out: Payload[] = [{ $case: "connected", value: { dialect: "firmware", remoteAddress: "127.0.0.1" } }];
  for (let u = 1; u <= 2; u++) {
    out.push({ $case: "stateChanged", value: { from: "idle", to: "listening" } });
    out.push({ $case: "recordingStarted", value: { utterance: u } });
    for (let p = 1; p <= 5; p++)
      out.push({ $case: "partial", value: { utterance: u, text: "go forward".slice(0, p * 2) } });
    out.push({ $case: "recordingStopped", value: { utterance: u, chunks: 50, bytes: 96_000, durationMs: 3_000 } });
    out.push({ $case: "stateChanged", value: { from: "listening", to: "thinking" } });
    out.push({
      $case: "transcript",
      value: { utterance: u, text: "go forward ten meters", confidence: 0.9, durationMs: 3_000 },
    });
    out.push({
      $case: "llmText",
      value: { utterance: u, text: "Moving forward ten meters now.", model: "fake", hadImage: false },
    });
    out.push({ $case: "stateChanged", value: { from: "thinking", to: "speaking" } });
    out.push({ $case: "ttsStarted", value: { utterance: u } });
    out.push({
      $case: "ttsDone",
      value: { utterance: u, durationMs: 1_800, bytes: 57_600, truncated: false, interrupted: false },
    });
  }
  out.push({ $case: "disconnected", value: { closeCode: 1000, reason: "bye", clean: true } });
  return out.map((payload, i) => ({
    id: `${sessionId}-${n}-${i}`,
    deviceId,
    sessionId,
    time: new Date(),
    edgeInstance: "soak-edge",
    payload,
  }));
}

async function main(): Promise<void> {
  await using nats = await startNats();
  await using db = await (argv.includes("--postgres") ? postgresDatabase() : sqliteDatabase());
  const metricsPort = await freePort();
  const child = await spawnStorage(db, nats.url, {
    HOTPIN_STORAGE_METRICS_PORT: String(metricsPort),
  });
  // The child never outlives this script, whatever fails.
  await using _child = { [Symbol.asyncDispose]: async () => void (await child.kill("SIGTERM")) };
  const pid = child.proc.pid as number;
  const nc = await connect({ servers: nats.url });
  await ensureEventStream(nc);
  const js = jetstream(nc);
  const client = createGrpcClient(storage.StorageClient, `127.0.0.1:${child.port}`);
  const samples: Array<Record<string, number>> = [];
  let published = 0;
  let failures = 0;
  const t0 = performance.now();
  const deadline = t0 + MINUTES * 60_000;
  const mb = (b: number) => Number((b / 2 ** 20).toFixed(1));
  const sample = async (minute: number) => {
    const h = await heap(metricsPort);
    const s = {
      minute,
      events: published,
      rss_mb: mb(rssBytes(pid)),
      rss_anon_mb: mb(statusBytes(pid, "RssAnon")),
      rss_file_mb: mb(statusBytes(pid, "RssFile")),
      heap_used_mb: mb(h.used),
      heap_total_mb: mb(h.total),
      external_mb: mb(h.external),
    };
    samples.push(s);
    progress(
      `minute ${minute}: rss ${s.rss_mb} MB (anon ${s.rss_anon_mb}, file ${s.rss_file_mb}), heap ${s.heap_used_mb} of ${s.heap_total_mb} MB, external ${s.external_mb} MB, ${published} events`,
    );
  };
  // Sampled every 10 s (for the medians), printed once a minute.
  const fine: Array<{ atMs: number; rss: number }> = [];
  const sampler = setInterval(() => {
    const atMs = performance.now() - t0;
    fine.push({ atMs, rss: rssBytes(pid) });
    if (Math.round(atMs / 10_000) % 6 === 0) void sample(Math.round(atMs / 60_000)).catch(() => failures++);
  }, 10_000);
  try {
    await Promise.all(
      Array.from({ length: DEVICES }, async (_, d) => {
        await sleep((d * CYCLE_MS) / DEVICES);
        const deviceId = `soak-${String(d + 1).padStart(3, "0")}`;
        for (let n = 0; performance.now() < deadline; n++) {
          const started = performance.now();
          const sessionId = `${deviceId}-s${n}`;
          try {
            await call(client, "recentTurns", { deviceId, limit: 0 });
            for (const ev of conversation(deviceId, sessionId, n)) {
              await js.publish(eventSubject(deviceId, ev.payload?.$case ?? "log"), events.Event.encode(ev).finish(), {
                msgID: ev.id,
              });
              published++;
            }
            const turn = (role: storage.TurnRole, text: string) => ({
              turn: { deviceId, sessionId, role, text, time: new Date(), hadImage: false },
            });
            await call(client, "appendTurn", turn(storage.TurnRole.TURN_ROLE_USER, "go forward ten meters"));
            await call(client, "appendTurn", turn(storage.TurnRole.TURN_ROLE_ASSISTANT, "Moving forward now."));
          } catch (err) {
            failures++;
            progress(`${deviceId}: ${(err as Error).message}`);
          }
          await sleep(Math.max(0, CYCLE_MS - (performance.now() - started)));
        }
      }),
    );
  } finally {
    clearInterval(sampler);
  }
  await sample(Math.round((performance.now() - t0) / 60_000));
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)] ?? Number.NaN;
  const warm = median(fine.filter((x) => x.atMs >= WARMUP_MS && x.atMs < WARMUP_MS + 20_000).map((x) => x.rss));
  const end = median(fine.slice(-3).map((x) => x.rss));
  // The V8 heap is a sawtooth minutes long, so two 20 s windows can land anywhere on it: the medians
  // of every 10 s sample in the first and the second half after warm-up say whether memory keeps growing.
  const after = fine.filter((x) => x.atMs >= WARMUP_MS);
  const half = Math.floor(after.length / 2);
  const firstHalf = median(after.slice(0, half).map((x) => x.rss));
  const secondHalf = median(after.slice(half).map((x) => x.rss));
  const out = {
    minutes: MINUTES,
    devices: DEVICES,
    speed: SPEED,
    events_published: published,
    events_per_s: Math.round(published / ((performance.now() - t0) / 1000)),
    failures,
    rss_after_warmup_mb: mb(warm),
    rss_end_mb: mb(end),
    rss_growth_pct: Number((((end - warm) / warm) * 100).toFixed(1)),
    rss_first_half_median_mb: mb(firstHalf),
    rss_second_half_median_mb: mb(secondHalf),
    rss_half_to_half_growth_pct: Number((((secondHalf - firstHalf) / firstHalf) * 100).toFixed(1)),
    samples,
  };
  client.close();
  await nc.close();
  if (json) console.log(JSON.stringify(out));
  else
    console.log(
      `storage soak: ${out.events_published} events (${out.events_per_s}/s), ${failures} failures; RSS ${out.rss_after_warmup_mb} MB after warm-up -> ${out.rss_end_mb} MB (${out.rss_growth_pct} %); ` +
        `median ${out.rss_first_half_median_mb} MB in the first half after warm-up, ${out.rss_second_half_median_mb} MB in the second (${out.rss_half_to_half_growth_pct} %)`,
    );
  process.exitCode = failures === 0 ? 0 : 1;
}

void main();
