// `npm run memory -w @hotpin/stt -- [--rounds 30] [--streams 12] [--utterance goforward] [--ramp] [--json]`: the STT service as its own
// process, started as the mesh starts it, gets rounds of `--streams` concurrent streams (the bench
// corpus in turn, as fast as flow control lets them go). After each round, once no stream is left,
// it prints the process's resident memory, the main thread's and the workers' JS heap and the
// recognizers the workers hold, so memory growth can be told apart (JS heap, decoders, native heap)
// in minutes rather than a mesh soak. The environment passes through (e.g. MALLOC_ARENA_MAX=2).
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { stt } from "@hotpin/contracts";
import { Mesh } from "@hotpin/mesh";
import { grpc } from "@hotpin/runtime";
import { recognize } from "../testing/harness";
import { hasFlag, positiveIntFlag, stringFlag } from "./args";
import { corpus } from "./corpus";

const ROUNDS = positiveIntFlag("--rounds", 30);
const STREAMS = positiveIntFlag("--streams", 12);
/** `--utterance goforward`: only that corpus entry (the soak's), for quicker rounds. */
const only = stringFlag("--utterance");
/** `--ramp`: round r runs min(r, --streams) streams, as a load that reaches new peaks now and then. */
const ramp = hasFlag("--ramp");
const json = hasFlag("--json");
const progress = (line: string) => process.stderr.write(`${line}\n`);

/** Resident memory of a process, from /proc (bytes). */
function rss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) * 1024;
}

/** The named series of a /metrics page (summed over labels matching `labels`). */
function metric(text: string, name: string, labels = ""): number {
  let sum = 0;
  for (const m of text.matchAll(new RegExp(`^${name}(\\{[^}]*\\})? (\\S+)$`, "gm"))) {
    if ((m[1] ?? "").includes(labels)) sum += Number(m[2]);
  }
  return sum;
}

const mb = (bytes: number) => Number((bytes / 2 ** 20).toFixed(1));

async function main(): Promise<void> {
  const utterances = corpus().filter((u) => !only || u.name === only);
  if (utterances.length === 0) throw new Error(`no utterance named ${only}`);
  const root = join(__dirname, "..", "..", "..", "..");
  await using mesh = await Mesh.start({
    root,
    // The STT service does not use NATS.
    natsUrl: "nats://127.0.0.1:1",
    dataDir: tmpdir(),
    randomPorts: true,
    only: ["stt"],
    env: {
      HOTPIN_STT_ENGINE: "pocketsphinx",
      HOTPIN_STT_IDLE_TIMEOUT_MS: "30000",
      HOTPIN_LOG_LEVEL: "warn",
    },
    output: (_, line) => progress(`[stt] ${line}`),
  });
  await mesh.waitReady("stt");
  const pid = mesh.pid("stt");
  if (!pid) throw new Error("stt has no pid");
  const metricsUrl = `http://127.0.0.1:${mesh.ports.stt.metricsPort}/metrics`;
  const client = new stt.SpeechToTextClient(mesh.address("stt"), grpc.credentials.createInsecure());
  interface Row {
    round: number;
    seconds: number;
    rss_mb: number;
    main_heap_mb: number;
    worker_heap_mb: number;
    recognizers_idle: number;
    recognizers_live: number;
  }
  const rows: Row[] = [];
  let next = 0;
  let failed = 0;
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      const began = performance.now();
      const outcomes = await Promise.all(
        Array.from({ length: ramp ? Math.min(round, STREAMS) : STREAMS }, () => {
          const u = utterances[next++ % utterances.length];
          return recognize(client, u?.pcm ?? Buffer.alloc(0));
        }),
      );
      failed += outcomes.filter((o) => !o.final).length;
      // Every stream has its answer; wait (bounded) until the workers have let go of them too.
      let text = "";
      for (let i = 0; i < 100; i++) {
        text = await (await fetch(metricsUrl)).text();
        if (metric(text, "hotpin_stt_recognizers", 'state="live"') === 0) break;
        await sleep(50);
      }
      const row: Row = {
        round,
        seconds: Number(((performance.now() - began) / 1000).toFixed(1)),
        rss_mb: mb(rss(pid)),
        main_heap_mb: mb(metric(text, "hotpin_nodejs_heap_size_used_bytes")),
        worker_heap_mb: mb(metric(text, "hotpin_stt_worker_heap_bytes")),
        recognizers_idle: metric(text, "hotpin_stt_recognizers", 'state="idle"'),
        recognizers_live: metric(text, "hotpin_stt_recognizers", 'state="live"'),
      };
      rows.push(row);
      if (!json)
        console.log(
          Object.entries(row)
            .map(([k, v]) => `${k} ${v}`)
            .join("  "),
        );
    }
  } finally {
    client.close();
  }
  const first = rows[Math.min(rows.length - 1, Math.floor(rows.length / 5))];
  const last = rows[rows.length - 1];
  const growth = first && last ? Number((((last.rss_mb - first.rss_mb) / first.rss_mb) * 100).toFixed(1)) : 0;
  const summary = {
    rounds: ROUNDS,
    streams_per_round: STREAMS,
    failed_streams: failed,
    malloc_arena_max: process.env.MALLOC_ARENA_MAX ?? "",
    rss_after_warmup_mb: first?.rss_mb,
    rss_end_mb: last?.rss_mb,
    rss_growth_pct: growth,
    rows,
  };
  if (json) console.log(JSON.stringify(summary));
  else
    console.log(
      `rss ${summary.rss_after_warmup_mb} MB after a fifth of the rounds -> ${summary.rss_end_mb} MB (${growth} %), ${failed} failed streams`,
    );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
