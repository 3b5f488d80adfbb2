import { setTimeout as sleep } from "node:timers/promises";
import { type DeviceResult, runDevice, type TimelineEvent } from "@hotpin/sim";
import { percentile } from "@hotpin/test-support";
import { cpuShare, type ProcessSample, sampleProcess } from "./process-stats";

/** One server under test: started fresh for each step so that its baseline memory is clean. */
export interface IngestTarget {
  name: string;
  start(): Promise<{ url: string; pid: number; stop(): Promise<void> }>;
}

export interface IngestStep {
  devices: number;
  /** Every device connected and streamed (none refused, none failed to connect). */
  connected: number;
  acks: number;
  ackP50Ms: number;
  ackP99Ms: number;
  /** Devices that gave up on an ACK (the firmware's 1000 ms window). */
  aborted: number;
  /** Devices that ended with a protocol error, timeout or connection failure. */
  failed: number;
  /** Resident memory over the server's own baseline, per device. */
  idleKbPerDevice: number;
  streamingKbPerDevice: number;
  /** Share of one core per device (1.0 = a whole core). */
  idleCpuPerDevice: number;
  streamingCpuPerDevice: number;
  /** Idle memory was sampled after a device had already started streaming (a slow step). */
  idleSampleLate: boolean;
  /**
   * Share of one core the load generator (this process: every simulated device) used while
   * they streamed. Near 1.0 the generator, not the server, sets the ceiling of the step.
   */
  generatorCpu: number;
}

export interface IngestOptions {
  pcm: Buffer;
  token: string;
  /** Firmware stabilisation delay: the idle phase between the handshake and the first chunk. */
  idleMs: number;
}

/** Devices through one whole utterance before the baseline (see warmUp). */
const WARM_UP_DEVICES = 10;
/** Two seconds of speech: past the recording's memory part, so the spill path is warm too. */
const WARM_UP_PCM_BYTES = 64_000;

/**
 * One-time costs are not per device: code compiled on first use, connections to dependencies
 * opened by the first call, lazily created state. A few devices go through the whole path
 * before the baseline, on both servers alike, so that N devices measure N devices.
 */
async function warmUp(url: string, opts: IngestOptions): Promise<void> {
  await Promise.all(
    Array.from({ length: WARM_UP_DEVICES }, (_, i) =>
      runDevice({
        url,
        dialect: "firmware",
        deviceId: `warm-${i + 1}`,
        token: opts.token,
        pcm: opts.pcm.subarray(0, WARM_UP_PCM_BYTES),
        pacing: "realtime",
        handshakeDelayMs: 0,
      }),
    ),
  );
}

/**
 * N firmware-dialect devices at real-time pace (4096-byte frames, the firmware's 20 ms pause,
 * 2 unacknowledged chunks at most) against one server process, after a warm-up; memory and CPU
 * of that process from /proc, ACK latency as the devices measured it.
 */
export async function ingestStep(target: IngestTarget, devices: number, opts: IngestOptions): Promise<IngestStep> {
  const server = await target.start();
  try {
    await warmUp(server.url, opts);
    await sleep(500); // let start-up and warm-up garbage settle before the baseline
    const base = await sampleProcess(server.pid);
    let connected = 0;
    let streaming = 0;
    let eos = 0;
    const phase = { allConnected: signal(), allStreaming: signal(), firstEos: signal() };
    const seen = new Set<string>();
    const onEvent = (id: string) => (e: TimelineEvent) => {
      if (e.dir === "in" && e.text.includes('"status":"connected"')) {
        if (++connected === devices) phase.allConnected.fire();
      } else if (e.dir === "out" && e.text.startsWith("binary") && !seen.has(id)) {
        seen.add(id);
        if (++streaming === devices) phase.allStreaming.fire();
      } else if (e.dir === "out" && e.text.includes('"EOS"')) {
        if (++eos === 1) phase.firstEos.fire();
      }
    };
    const run = Promise.all(
      Array.from({ length: devices }, (_, i) => {
        const id = `ingest-${String(i + 1).padStart(4, "0")}`;
        return runDevice({
          url: server.url,
          dialect: "firmware",
          deviceId: id,
          token: opts.token,
          pcm: opts.pcm,
          pacing: "realtime",
          handshakeDelayMs: opts.idleMs,
          onEvent: onEvent(id),
        });
      }),
    );
    const ended = run.then(() => undefined);
    // Idle: every device handshaken and waiting; streaming: every device sending, before any EOS.
    await Promise.race([phase.allConnected.wait, ended]);
    const idleA = await sampleProcess(server.pid);
    await Promise.race([sleep(Math.min(1_000, opts.idleMs / 3)), ended]);
    const idleB = await sampleProcess(server.pid);
    const idleSampleLate = streaming > 0;
    await Promise.race([phase.allStreaming.wait, ended]);
    const streamA = await sampleProcess(server.pid);
    const generatorA = { cpu: process.cpuUsage(), atMs: performance.now() };
    const peak: ProcessSample[] = [];
    for (let i = 0; i < 100 && eos === 0 && !phase.firstEos.fired; i++) {
      await Promise.race([sleep(250), phase.firstEos.wait, ended]);
      if (!phase.firstEos.fired) peak.push(await sampleProcess(server.pid));
    }
    const streamB = peak.at(-1) ?? (await sampleProcess(server.pid));
    const generatorCpu = cpuSince(generatorA);
    const results: DeviceResult[] = await run;
    const acks = results.flatMap((r) => r.ackLatenciesMs);
    const maxRss = Math.max(streamB.rssKb, ...peak.map((p) => p.rssKb));
    return {
      devices,
      connected,
      acks: acks.length,
      ackP50Ms: percentile(acks, 50),
      ackP99Ms: percentile(acks, 99),
      aborted: results.filter((r) => r.utterances.some((u) => u.streamAborted)).length,
      failed: results.filter((r) => r.error && r.error.kind !== "http").length,
      idleKbPerDevice: (Math.max(idleA.rssKb, idleB.rssKb) - base.rssKb) / devices,
      streamingKbPerDevice: (maxRss - base.rssKb) / devices,
      idleCpuPerDevice: cpuShare(idleA, idleB) / devices,
      streamingCpuPerDevice: cpuShare(streamA, streamB) / devices,
      idleSampleLate,
      generatorCpu,
    };
  } finally {
    await server.stop();
  }
}

export interface IngestSweep {
  target: string;
  steps: IngestStep[];
  /** Largest N whose ACK p99 stayed under the limit with every device served; 0 if none. */
  maxDevices: number;
  /** Every step passed: the real limit is above the largest step. */
  capped: boolean;
}

/** A step passes when ACK p99 is under the limit and no device failed or aborted its stream. */
export function stepPasses(s: IngestStep, p99LimitMs: number): boolean {
  return s.connected === s.devices && s.failed === 0 && s.aborted === 0 && s.ackP99Ms < p99LimitMs;
}

/**
 * Steps N up through `counts` (bounded) for every target, interleaved — at each N the targets
 * run one after the other — so that a noisy moment of the machine hits both. A target stops
 * stepping after a step fails twice in a row.
 */
export async function ingestSweeps(
  targets: readonly IngestTarget[],
  counts: readonly number[],
  p99LimitMs: number,
  opts: IngestOptions,
  progress: (line: string) => void,
): Promise<IngestSweep[]> {
  const sweeps: IngestSweep[] = targets.map((t) => ({ target: t.name, steps: [], maxDevices: 0, capped: true }));
  for (const n of counts) {
    for (const [i, target] of targets.entries()) {
      const sweep = sweeps[i] as IngestSweep;
      if (!sweep.capped) continue;
      // A failing step runs once more before it counts: one noisy moment of a shared machine
      // must not end a sweep that the server would pass.
      let ok = false;
      for (let attempt = 1; attempt <= 2 && !ok; attempt++) {
        const step = await ingestStep(target, n, opts);
        sweep.steps.push(step);
        ok = stepPasses(step, p99LimitMs);
        progress(
          `${target.name} N=${n}: ACK p50 ${step.ackP50Ms.toFixed(1)} ms p99 ${step.ackP99Ms.toFixed(1)} ms` +
            ` (${step.acks} ACKs, ${step.aborted} aborted, ${step.failed} failed) ${ok ? "ok" : `over the limit (attempt ${attempt})`}`,
        );
      }
      if (ok) sweep.maxDevices = n;
      else sweep.capped = false;
    }
    if (sweeps.every((s) => !s.capped)) break;
  }
  return sweeps;
}

/** Share of one core this process used since `from`. */
function cpuSince(from: { cpu: NodeJS.CpuUsage; atMs: number }): number {
  const used = process.cpuUsage(from.cpu);
  const wallUs = (performance.now() - from.atMs) * 1000;
  return wallUs > 0 ? (used.user + used.system) / wallUs : 0;
}

interface Signal {
  fired: boolean;
  wait: Promise<void>;
  fire(): void;
}

function signal(): Signal {
  let fire = () => {};
  const s: Signal = {
    fired: false,
    wait: new Promise<void>((r) => {
      fire = r;
    }),
    fire: () => {
      s.fired = true;
      fire();
    },
  };
  return s;
}
