// `npm run bench:xiaozhi -w @hotpin/edge-ws -- [devices] [seconds] [runs]`: xiaozhi-esp32 devices
// (packages/sim, the firmware's behaviour) against the real mesh. Prints, as JSON: a VAD-ended auto
// turn's last word → first reply packet, and the edge's CPU and memory per device listening in a
// quiet room (16 kHz 60 ms Opus with DTX decoded, the VAD on the decoded audio).
import { readFileSync } from "node:fs";
import { runXiaozhiDevice } from "@hotpin/sim";
import { median, startFakeGroq, startMesh } from "@hotpin/test-support";
import { DEFAULT_LISTENER_OPTIONS } from "@hotpin/vad";
import { speechSpan } from "@hotpin/vad/dist/testing";
import { cpuShare, sampleProcess } from "./process-stats";

const GOFORWARD = "/usr/share/pocketsphinx/test/data/goforward.raw";
const mac = (n: number) =>
  `02:00:00:00:${((n >> 8) & 0xff).toString(16).padStart(2, "0")}:${(n & 0xff).toString(16).padStart(2, "0")}`;
const clientIdOf = (n: number) => `b3e0c4a0-0000-4000-8000-${n.toString(16).padStart(12, "0")}`;

async function main(): Promise<void> {
  const devices = Number(process.argv[2] ?? 10);
  const seconds = Number(process.argv[3] ?? 20);
  const runs = Number(process.argv[4] ?? 3);
  const ids = Array.from({ length: devices + runs + 1 }, (_, i) => mac(i + 1));
  const log = (line: string) => process.stderr.write(`# ${line}\n`);
  await using groq = await startFakeGroq({
    defaultAnswer: "Moving forward ten meters now.",
    latency: { firstTokenMs: 250, perTokenMs: 10 },
  });
  log("starting the mesh");
  await using mesh = await startMesh({
    env: { GROQ_API_KEY: "bench-key", GROQ_BASE_URL: groq.url },
    // PocketSphinx scores goforward.raw lower after the firmware's Opus (edge README, xiaozhi).
    serviceEnv: { edge: { HOTPIN_EDGE_XIAOZHI_DEVICES: ids.join(","), HOTPIN_EDGE_MIN_CONFIDENCE: "0.3" } },
  });
  const otaUrl = `${mesh.edgeUrl}/xiaozhi/ota/`;
  const pcm = readFileSync(GOFORWARD);
  const { lastWordMs } = await speechSpan(pcm);
  const fileMs = pcm.length / 32;

  const turns: number[] = [];
  for (let i = 0; i <= runs; i++) {
    const r = await runXiaozhiDevice({
      otaUrl,
      deviceId: ids[i] as string,
      clientId: clientIdOf(i),
      pcm,
      turns: [{ mode: "auto" }],
    });
    if (r.error) throw new Error(`xiaozhi device failed: ${r.error.message}`);
    const first = r.turns[0]?.firstAudioMs;
    // The first run warms the engines; the sim dates the end of speech at the file's end.
    if (i > 0 && first !== undefined) turns.push(first + fileMs - lastWordMs);
  }
  log(`auto turn: last word → first reply packet ${median(turns).toFixed(0)} ms`);

  const pid = mesh.mesh.pid("edge");
  if (!pid) throw new Error("the edge process has no pid");
  await new Promise((r) => setTimeout(r, 2_000));
  const idle0 = await sampleProcess(pid);
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const idle1 = await sampleProcess(pid);
  // Silence: the firmware's encoder (DTX on) sends 1-3 byte packets, as in a quiet room.
  const quiet = Buffer.alloc(seconds * 32_000);
  const busy0 = await sampleProcess(pid);
  const mid = new Promise((r) => setTimeout(r, seconds * 500)).then(() => sampleProcess(pid));
  const streams = await Promise.all(
    Array.from({ length: devices }, (_, i) =>
      runXiaozhiDevice({
        otaUrl,
        deviceId: ids[runs + 1 + i] as string,
        clientId: clientIdOf(runs + 1 + i),
        pcm: quiet,
        turns: [{ mode: "auto" }],
        // Nobody speaks: the turn never ends, which the sim reports once its stream is done.
        maxTrailingSilenceMs: 0,
      }),
    ),
  );
  const busy1 = await sampleProcess(pid);
  const unexpected = streams.filter((r) => r.error && !/did not end the turn/.test(r.error.message));
  if (unexpected.length > 0) throw new Error(`xiaozhi device failed: ${unexpected[0]?.error?.message}`);
  const perDevice = Math.max(0, cpuShare(busy0, busy1) - cpuShare(idle0, idle1)) / devices;
  const rssKbPerDevice = ((await mid).rssKb - idle1.rssKb) / devices;
  const result = {
    xiaozhi_vad_turn_first_audio_ms: Math.round(median(turns)),
    xiaozhi_vad_end_silence_ms: DEFAULT_LISTENER_OPTIONS.turn.endSilenceMs,
    xiaozhi_cpu_ms_per_audio_second: Number((perDevice * 1000).toFixed(2)),
    xiaozhi_cpu_pct_per_device: Number((perDevice * 100).toFixed(3)),
    xiaozhi_rss_kb_per_device: Math.round(rssKbPerDevice),
    xiaozhi_cpu_devices: devices,
    xiaozhi_cpu_seconds: seconds,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`bench:xiaozhi failed: ${(err as Error).message}\n`);
    process.exit(1);
  },
);
