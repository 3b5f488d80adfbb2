// `npm run cpu -w @hotpin/stt -- [--streams 4] [--times 2] [--profile] [--json]`: CPU time per second of audio,
// the engine's own and the service's, so the service's cost outside the engine is a figure. CPU
// time (getrusage, /proc), not wall time, and ratios within one run, so it means something on a
// machine shared with other work.
//  - engine alone: PocketSphinx decoders in this process, fed the paced utterance as a worker
//    feeds it (QUANTUM_SAMPLES per call, a partial after each): one decoder, then as many as a
//    worker serves (`--streams` / workers) taking turns quantum by quantum, as a worker's round
//    robin does;
//  - decoders at once: one decoder per core, each on its own thread, decoding at the same time,
//    against one alone: whether the cores decode `cores` streams as fast as one (the bench's bound
//    assumes so);
//  - service: the service as its own process (as the mesh starts it), `--streams` devices each
//    saying the utterance `--times` times at real-time pacing with partials on; the process's CPU
//    time and its main thread's (gRPC, sessions, messages to and from the workers). The workers'
//    own JavaScript and the engine's native calls are split with `--profile`: the service runs
//    under `--cpu-prof` and each thread's samples during the paced streams are counted as native
//    (the engine's calls, koffi's and node's own), JavaScript or garbage collection.
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { isMainThread, parentPort, Worker } from "node:worker_threads";
import { stt } from "@hotpin/contracts";
import { Mesh } from "@hotpin/mesh";
import { grpc } from "@hotpin/runtime";
import { statCpuSeconds } from "@hotpin/test-support";
import type { Recognizer } from "../engines/engine";
import { PocketSphinxEngine } from "../engines/pocketsphinx";
import { QUANTUM_SAMPLES } from "../pool/protocol";
import { baseConfig } from "../testing/harness";
import { hasFlag, positiveIntFlag } from "./args";
import { corpus } from "./corpus";

const STREAMS = positiveIntFlag("--streams", 4);
const TIMES = positiveIntFlag("--times", 2);
const json = hasFlag("--json");
/** `--profile`: the service runs under `--cpu-prof`; its threads' busy time is split into engine, JS and GC. */
const profile = hasFlag("--profile");
const MODEL_DIR = "/usr/share/pocketsphinx/model/en-us";
const CHUNK_BYTES = 4096;
const BYTES_PER_MS = 32;
/** utime + stime of a process, or of one of its threads, in seconds. */
const procCpu = (path: string): number => statCpuSeconds(readFileSync(path, "utf8"));

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

interface ProfileNode {
  id: number;
  callFrame: { functionName: string };
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Monotonic µs, the clock of V8's CPU profiles (CLOCK_MONOTONIC, system-wide). */
const monoUs = () => Number(process.hrtime.bigint() / 1000n);

/**
 * Busy time of each profiled thread between `from` and `to` (µs), split into native code
 * (`(program)`: the engine's calls, koffi's and node's own), JavaScript and GC, as shares.
 */
function profileShares(dir: string, from: number, to: number) {
  const out: Record<string, { busy_ms: number; native: number; js: number; gc: number }> = {};
  for (const file of readdirSync(dir).sort()) {
    // CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile; thread 0 is the main thread.
    const thread = file.split(".")[4] === "0" ? "main" : `worker ${file.split(".")[4]}`;
    const p = JSON.parse(readFileSync(join(dir, file), "utf8")) as CpuProfile;
    const names = new Map(p.nodes.map((n) => [n.id, n.callFrame.functionName]));
    const sum = { native: 0, js: 0, gc: 0 };
    let at = p.startTime;
    p.samples.forEach((id, i) => {
      const dt = p.timeDeltas[i] ?? 0;
      at += dt;
      if (at < from || at > to) return;
      const name = names.get(id);
      if (name === "(idle)") return;
      if (name === "(program)") sum.native += dt;
      else if (name === "(garbage collector)") sum.gc += dt;
      else sum.js += dt;
    });
    const busy = sum.native + sum.js + sum.gc;
    const share = (v: number) => Number((busy > 0 ? v / busy : 0).toFixed(4));
    out[thread] = { busy_ms: Math.round(busy / 1000), native: share(sum.native), js: share(sum.js), gc: share(sum.gc) };
  }
  return out;
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

/**
 * The service as its own process under `STREAMS` paced devices: its CPU seconds and its main
 * thread's over the streams (after one stream to warm it up), the partials they got, and when
 * (monotonic µs) the streams ran. Returns once the service has stopped, so profiles are written.
 */
async function serviceCpu(paced: Buffer, audioS: number, profileDir: string | undefined) {
  const root = join(__dirname, "..", "..", "..", "..");
  await using mesh = await Mesh.start({
    root,
    natsUrl: "nats://127.0.0.1:1", // the STT service does not use NATS
    dataDir: tmpdir(),
    randomPorts: true,
    only: ["stt"],
    env: { HOTPIN_STT_ENGINE: "pocketsphinx", HOTPIN_STT_IDLE_TIMEOUT_MS: "30000", HOTPIN_LOG_LEVEL: "warn" },
    output: (_, line) => process.stderr.write(`[stt] ${line}\n`),
    ...(profileDir && {
      spawn: (_, command, args, options) =>
        spawn(command, ["--cpu-prof", `--cpu-prof-dir=${profileDir}`, ...args], options),
    }),
  });
  await mesh.waitReady("stt");
  const pid = mesh.pid("stt");
  if (!pid) throw new Error("stt has no pid");
  const client = new stt.SpeechToTextClient(mesh.address("stt"), grpc.credentials.createInsecure());
  try {
    // One stream first, so that start-up (decoders built, code loaded) is not counted.
    await pacedStream(client, paced);
    const window = { from: monoUs(), to: 0 };
    const total0 = procCpu(`/proc/${pid}/stat`);
    const main0 = procCpu(`/proc/${pid}/task/${pid}/stat`);
    let partials = 0;
    await Promise.all(
      Array.from({ length: STREAMS }, async (_, i) => {
        await new Promise((r) => setTimeout(r, (i * audioS * 1000) / STREAMS));
        for (let t = 0; t < TIMES; t++) {
          const n = await pacedStream(client, paced);
          partials += n;
        }
      }),
    );
    const total = procCpu(`/proc/${pid}/stat`) - total0;
    const mainThread = procCpu(`/proc/${pid}/task/${pid}/stat`) - main0;
    window.to = monoUs();
    return { total, mainThread, partials, window };
  } finally {
    client.close();
  }
}

/** This file as a thread with one decoder, decoding the utterance once per message. */
function decoderThread(port: NonNullable<typeof parentPort>): void {
  const engine = new PocketSphinxEngine(MODEL_DIR, 1);
  engine.warm(1);
  const samples = pacedSamples();
  port.on("message", async () => {
    await engineCpu(engine, samples, 1);
    port.postMessage("done");
  });
  port.postMessage("ready");
}

function pacedSamples(): Int16Array {
  const pcm = corpus().find((u) => u.name.endsWith("0890"))?.pcm;
  if (!pcm) throw new Error("the paced utterance (0890) is missing");
  return new Int16Array(pcm.buffer, pcm.byteOffset, pcm.length / 2);
}

/**
 * CPU of `cores` decoder threads decoding at once over that of one thread decoding as much alone,
 * three alternating pairs summed, so both see the same load.
 */
async function parallelOverSingle(cores: number): Promise<number> {
  const threads = Array.from({ length: cores }, () => new Worker(__filename));
  try {
    await Promise.all(threads.map((t) => new Promise((r) => t.once("message", r))));
    const decode = (t: Worker) =>
      new Promise((r) => {
        t.once("message", r);
        t.postMessage("go");
      });
    let alone = 0;
    let together = 0;
    for (let i = 0; i < 3; i++) {
      let began = cpuSeconds();
      for (let k = 0; k < cores; k++) await decode(threads[0] as Worker);
      alone += cpuSeconds() - began;
      began = cpuSeconds();
      await Promise.all(threads.map(decode));
      together += cpuSeconds() - began;
    }
    return together / alone;
  } finally {
    await Promise.all(threads.map((t) => t.terminate()));
  }
}

async function main(): Promise<void> {
  const samples = pacedSamples();
  const paced = Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength);
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
  const parallel = await parallelOverSingle(availableParallelism());

  const profileDir = profile ? mkdtempSync(join(tmpdir(), "stt-cpu-prof-")) : undefined;
  const { total, mainThread, partials, window } = await serviceCpu(paced, audioS, profileDir);
  // The service has stopped (the mesh is disposed), so its profiles are written.
  let threads: ReturnType<typeof profileShares> | undefined;
  if (profileDir) {
    threads = profileShares(profileDir, window.from, window.to);
    rmSync(profileDir, { recursive: true, force: true });
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
    parallel_over_single: r4(parallel),
    service_cpu_per_audio_s: r4(service),
    main_thread_cpu_per_audio_s: r4(mainThread / spoken),
    main_thread_share: r4(mainThread / total),
    // Not all of it is outside the engine: the engine also runs slower beside the other worker,
    // its second passes on libuv's pool and the machine's other work than alone in this process.
    service_over_engine: r4(service / turns),
    partials_per_audio_s: Number((partials / spoken).toFixed(2)),
    ...(threads && { threads }),
  };
  if (json) console.log(JSON.stringify(out));
  else for (const [k, v] of Object.entries(out)) console.log(`${k.padEnd(30)} ${JSON.stringify(v)}`);
}

if (isMainThread)
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
else if (parentPort) decoderThread(parentPort);
