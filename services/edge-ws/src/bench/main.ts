import { join } from "node:path";
import { loadSpeech } from "@hotpin/sim";
import { startNats } from "@hotpin/test-support";
import { spawnNode, waitForLine } from "./child-process";
import { BENCH_TOKEN, edgeDir, startEdgeProcess } from "./edge-process";
import { measureFirstAudio } from "./first-audio";
import { type IngestSweep, type IngestTarget, ingestSweeps } from "./ingest";
import { measureListening } from "./listening";
import { printEdgeReport } from "./report";

/**
 * `npm run bench:edge [-- --json] [-- --steps 20,50,100] [-- --utterances 5] [-- --only e2e|e2e-local|ingest|listening]`
 * (a) end of speech → first reply audio through the real mesh, by stage, with local engines and
 * again with the final transcript from (fake) Groq Whisper; (b) ingest of N firmware devices
 * into one edge process next to a bare `ws` ACK server, in the same run; (c) always-listening
 * (Sesame-style) devices: a VAD-ended turn, barge-in reaction, CPU per streaming device.
 */
const GOFORWARD = "/usr/share/pocketsphinx/test/data/goforward.raw";
const ACK_P99_LIMIT_MS = 100;

function args() {
  const argv = process.argv.slice(2);
  const value = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  // Up to where both servers fail the ACK limit on this kind of machine (issue 16: the real
  // ceiling); each target stops at its first failing step, so the long tail costs only the side
  // that still passes.
  const steps = (value("--steps") ?? "50,100,200,300,500,750,1000,1500,2000,2500,3000,4000,5000")
    .split(",")
    .map(Number)
    .filter((n) => Number.isInteger(n) && n > 0 && n <= MAX_INGEST_DEVICES);
  return {
    json: argv.includes("--json"),
    steps,
    utterances: Math.min(20, Math.max(1, Number(value("--utterances") ?? 3))),
    only: value("--only"),
  };
}

async function main(): Promise<void> {
  const a = args();
  const progress = (line: string) => process.stderr.write(`# ${line}\n`);
  const speech = await loadSpeech(GOFORWARD);

  const e2e = (sttEngine: "pocketsphinx" | "pocketsphinx+groq") =>
    measureFirstAudio({
      pcm: speech,
      utterances: a.utterances,
      firstTokenMs: 250,
      perTokenMs: 10,
      sttEngine,
      progress,
    });
  // Local engines first (PocketSphinx + espeak-ng), then the final from (fake) Groq Whisper.
  const only = (...names: string[]) => a.only === undefined || names.includes(a.only);
  const firstAudio = only("e2e", "e2e-local") ? await e2e("pocketsphinx") : undefined;
  const groqFinal = only("e2e") ? await e2e("pocketsphinx+groq") : undefined;

  let ingest: Awaited<ReturnType<typeof runIngest>> | undefined;
  if (only("ingest")) ingest = await runIngest(a.steps, Buffer.concat([speech, speech]), progress);
  const listening = only("listening")
    ? await measureListening({ pcm: speech, runs: a.utterances, devices: 10, seconds: 10, progress })
    : undefined;

  printEdgeReport({
    json: a.json,
    firstAudio,
    groqFinal,
    ingest,
    listening,
    ackP99LimitMs: ACK_P99_LIMIT_MS,
    steps: a.steps,
  });
}

/** The sweep's largest step: every device is a socket in this process and one in the edge's. */
const MAX_INGEST_DEVICES = 5_000;

async function runIngest(steps: number[], pcm: Buffer, progress: (line: string) => void) {
  await using nats = await startNats();
  const sink = spawnNode(["--enable-source-maps", join(__dirname, "sink-stt-server.js")], {
    cwd: edgeDir,
    env: process.env,
  });
  try {
    const sinkAddress = `127.0.0.1:${(await waitForLine(sink, /^listening (\d+)$/))[1]}`;
    const edge: IngestTarget = {
      name: "edge",
      async start() {
        const e = await startEdgeProcess({
          natsUrl: nats.url,
          stt: sinkAddress,
          llm: sinkAddress,
          tts: sinkAddress,
          storage: sinkAddress,
          // Every simulated device comes from 127.0.0.1 with one token: the per-address and
          // per-token caps on unidentified sockets (a defence against one client) would refuse
          // the sweep itself, so the bench lifts them along with the connection caps.
          env: Object.fromEntries(
            [
              "HOTPIN_EDGE_MAX_CONNECTIONS",
              "HOTPIN_EDGE_MAX_HTTP_CONNECTIONS",
              "HOTPIN_EDGE_MAX_PENDING_PER_ADDRESS",
              "HOTPIN_EDGE_MAX_PENDING_PER_TOKEN",
            ].map((k) => [k, String(MAX_INGEST_DEVICES + 100)]),
          ),
        });
        return { url: e.url, pid: e.child.pid, stop: e.stop };
      },
    };
    const bare: IngestTarget = {
      name: "bare ws",
      async start() {
        const child = spawnNode(["--enable-source-maps", join(__dirname, "bare-ack-server.js")], {
          cwd: edgeDir,
          env: process.env,
        });
        const port = (await waitForLine(child, /^listening (\d+)$/))[1];
        return { url: `ws://127.0.0.1:${port}`, pid: child.pid, stop: () => child.stop() };
      },
    };
    const opts = { pcm, token: BENCH_TOKEN, idleMs: 3_000 };
    const [bareSweep, edgeSweep] = await ingestSweeps([bare, edge], steps, ACK_P99_LIMIT_MS, opts, progress);
    return { edge: edgeSweep as IngestSweep, bare: bareSweep as IngestSweep, streamSeconds: pcm.length / 32_000 };
  } finally {
    await sink.stop();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : err);
    process.exit(1);
  },
);
