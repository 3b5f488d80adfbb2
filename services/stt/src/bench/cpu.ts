// `npm run cpu -w @hotpin/stt -- [--streams 4] [--times 2] [--json]`: CPU time per second of audio,
// the engine's own and the service's, so the service's cost outside the engine is a figure. CPU
// time (getrusage, /proc), not wall time, and ratios within one run, so it means something on a
// machine shared with other work.
//  - engine alone: PocketSphinx decoders in this process, fed the paced utterance as a worker
//    feeds it (QUANTUM_SAMPLES per call, a partial after each): one decoder, then as many as a
//    worker serves (`--streams` / workers) taking turns quantum by quantum, as a worker's round
//    robin does;
//  - service: the service as its own process (as the mesh starts it), `--streams` devices each
//    saying the utterance `--times` times at real-time pacing with partials on; the process's CPU
//    time and its main thread's (gRPC, sessions, messages to and from the workers).
import { readFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { stt } from "@hotpin/contracts";
import { Mesh } from "@hotpin/mesh";
import { grpc } from "@hotpin/runtime";
import type { Recognizer } from "../engines/engine";
import { PocketSphinxEngine } from "../engines/pocketsphinx";
import { QUANTUM_SAMPLES } from "../pool/protocol";
import { baseConfig } from "../testing/harness";
import { corpus } from "./corpus";

const argv = process.argv.slice(2);
const num = (flag: string, dflt: number) => {
  const i = argv.indexOf(flag);
  const v = i >= 0 ? Number(argv[i + 1]) : dflt;
  if (!Number.isInteger(v) || v <= 0) throw new Error(`${flag} must be a positive integer`);
  return v;
};
const STREAMS = num("--streams", 4);
const TIMES = num("--times", 2);
const json = argv.includes("--json");
const MODEL_DIR = "/usr/share/pocketsphinx/model/en-us";
const CHUNK_BYTES = 4096;
const BYTES_PER_MS = 32;
/** Clock ticks per second of /proc's utime and stime (sysconf(_SC_CLK_TCK) on Linux). */
const TICKS = 100;

/** utime + stime of a process, or of one of its threads, in seconds. */
function procCpu(path: string): number {
  const stat = readFileSync(path, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / TICKS;
}

const cpuSeconds = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

/**
 * CPU seconds of this process to decode `pcm` once on each of `k` decoders, taking turns one
 * quantum at a time, with a partial after each; and the wall time of the partials alone.
 */
async function engineCpu(engine: PocketSphinxEngine, pcm: Int16Array, k: number) {
  const recognizers: Recognizer[] = [];
  for (let i = 0; i < k; i++) recognizers.push(await engine.open());
  let partialS = 0;
  const began = cpuSeconds();
  for (let at = 0; at < pcm.length; at += QUANTUM_SAMPLES) {
    for (const r of recognizers) {
      await r.accept(pcm.subarray(at, at + QUANTUM_SAMPLES));
      const t = performance.now();
      r.partial();
      partialS += (performance.now() - t) / 1000;
    }
  }
  for (const r of recognizers) await r.finish();
  const cpu = cpuSeconds() - began;
  for (const r of recognizers) await r.release();
  return { cpu, partialS };
}

/** One paced stream (as bench.ts's): each 4096-byte chunk leaves once its last sample is "spoken". */
function pacedStream(client: stt.SpeechToTextClient, pcm: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const call = client.recognize();
    let partials = 0;
    call.on("data", (res: stt.RecognizeResponse) => {
      if (res.result?.$case === "partial") partials++;
      else if (res.result?.$case === "final") resolve(partials);
    });
    call.on("error", reject);
    const t0 = performance.now();
    call.write({ request: { $case: "config", value: { ...baseConfig(), partialResults: true } } });
    let sent = 0;
    const next = () => {
      const end = Math.min(sent + CHUNK_BYTES, pcm.length);
      call.write({ request: { $case: "audio", value: pcm.subarray(sent, end) } });
      sent = end;
      if (sent >= pcm.length) return call.end();
      const due = t0 + Math.min(sent + CHUNK_BYTES, pcm.length) / BYTES_PER_MS;
      setTimeout(next, Math.max(0, due - performance.now()));
    };
    setTimeout(next, CHUNK_BYTES / BYTES_PER_MS);
  });
}

async function main(): Promise<void> {
  const paced = corpus().find((u) => u.name.endsWith("0890"))?.pcm;
  if (!paced) throw new Error("the paced utterance (0890) is missing");
  const samples = new Int16Array(paced.buffer, paced.byteOffset, paced.length / 2);
  const audioS = paced.length / BYTES_PER_MS / 1000;
  const perWorker = Math.max(1, Math.ceil(STREAMS / availableParallelism()));

  // Engine alone, best of 3 per mode, the modes interleaved so that both see the same load.
  const engine = new PocketSphinxEngine(MODEL_DIR, perWorker);
  engine.warm(perWorker);
  let single = Number.POSITIVE_INFINITY;
  let turns = Number.POSITIVE_INFINITY;
  let partialShare = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 3; i++) {
    const one = await engineCpu(engine, samples, 1);
    single = Math.min(single, one.cpu / audioS);
    partialShare = Math.min(partialShare, one.partialS / one.cpu);
    turns = Math.min(turns, (await engineCpu(engine, samples, perWorker)).cpu / (perWorker * audioS));
  }
  engine.close();

  const root = join(__dirname, "..", "..", "..", "..");
  await using mesh = await Mesh.start({
    root,
    natsUrl: "nats://127.0.0.1:1", // the STT service does not use NATS
    dataDir: tmpdir(),
    randomPorts: true,
    only: ["stt"],
    env: { HOTPIN_STT_ENGINE: "pocketsphinx", HOTPIN_STT_IDLE_TIMEOUT_MS: "30000", HOTPIN_LOG_LEVEL: "warn" },
    output: (_, line) => process.stderr.write(`[stt] ${line}\n`),
  });
  await mesh.waitReady("stt");
  const pid = mesh.pid("stt");
  if (!pid) throw new Error("stt has no pid");
  const client = new stt.SpeechToTextClient(mesh.address("stt"), grpc.credentials.createInsecure());
  let partials = 0;
  let total: number;
  let mainThread: number;
  try {
    // One stream first, so that start-up (decoders built, code loaded) is not counted.
    await pacedStream(client, paced);
    const total0 = procCpu(`/proc/${pid}/stat`);
    const main0 = procCpu(`/proc/${pid}/task/${pid}/stat`);
    await Promise.all(
      Array.from({ length: STREAMS }, async (_, i) => {
        await new Promise((r) => setTimeout(r, (i * audioS * 1000) / STREAMS));
        for (let t = 0; t < TIMES; t++) partials += await pacedStream(client, paced);
      }),
    );
    total = procCpu(`/proc/${pid}/stat`) - total0;
    mainThread = procCpu(`/proc/${pid}/task/${pid}/stat`) - main0;
  } finally {
    client.close();
  }
  const spoken = STREAMS * TIMES * audioS;
  const service = total / spoken;
  const r4 = (v: number) => Number(v.toFixed(4));
  const out = {
    audio_seconds: Number(spoken.toFixed(1)),
    streams_per_worker: perWorker,
    engine_cpu_per_audio_s: r4(single),
    engine_turns_cpu_per_audio_s: r4(turns),
    turns_over_single: r4(turns / single),
    partial_share_of_engine: r4(partialShare),
    service_cpu_per_audio_s: r4(service),
    main_thread_cpu_per_audio_s: r4(mainThread / spoken),
    main_thread_share: r4(mainThread / total),
    outside_engine_share: r4((service - turns) / service),
    partials_per_audio_s: Number((partials / spoken).toFixed(2)),
  };
  if (json) console.log(JSON.stringify(out));
  else for (const [k, v] of Object.entries(out)) console.log(`${k.padEnd(30)} ${v}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
