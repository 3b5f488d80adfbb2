// `npm run bench:tts [-- --json] [--iterations N] [--seconds S] [--concurrency C]`
// Starts the real service (dist/main.js) as its own process on free loopback ports, then, in
// the same run, compares one ~20-word sentence through the service (gRPC, espeak-ng + sox
// resampling to 16 kHz) with the espeak-ng command run directly; and measures sustained
// throughput with C requests in flight. The phrase cache is off so every request synthesises.
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { health, tts } from "@hotpin/contracts";
import { grpc } from "@hotpin/runtime";
import { freePort, percentile, round } from "@hotpin/test-support";

const SENTENCE =
  "The quick brown fox jumps over the lazy dog while the weather forecast promises rain for the rest of the week.";
const VOICE = { voice: "en-us", rateWpm: 175, pitch: 50 };

const { values: args } = parseArgs({
  options: {
    json: { type: "boolean", default: false },
    iterations: { type: "string", default: "40" },
    seconds: { type: "string", default: "4" },
    concurrency: { type: "string", default: String(2 * availableParallelism()) },
  },
});
const iterations = boundedInt(args.iterations, 5, 10_000, "iterations");
const seconds = boundedInt(args.seconds, 1, 600, "seconds");
const concurrency = boundedInt(args.concurrency, 1, 256, "concurrency");

function boundedInt(raw: string | undefined, min: number, max: number, name: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name} must be a whole number ${min}..${max}`);
  return n;
}

interface Timing {
  firstMs: number;
  totalMs: number;
  audioSeconds: number;
}

/** espeak-ng alone, as a user would run it: first byte of its WAV output and completion. */
function direct(): Promise<Timing> {
  return new Promise((resolve, reject) => {
    const began = performance.now();
    let firstMs = -1;
    let bytes = 0;
    const p = spawn("espeak-ng", ["--stdin", "--stdout", "-b", "1", "-v", VOICE.voice, "-s", "175", "-p", "50"]);
    p.stdout.on("data", (d: Buffer) => {
      if (firstMs < 0) firstMs = performance.now() - began;
      bytes += d.length;
    });
    p.on("error", reject);
    p.on("close", (code) => {
      if (code !== 0) reject(new Error(`espeak-ng exited ${code}`));
      else resolve({ firstMs, totalMs: performance.now() - began, audioSeconds: (bytes - 44) / 2 / 22_050 });
    });
    p.stdin.end(`${SENTENCE}\n`);
  });
}

function viaService(client: tts.TextToSpeechClient): Promise<Timing> {
  return new Promise((resolve, reject) => {
    const began = performance.now();
    let firstMs = -1;
    let audioSeconds = 0;
    const call = client.synthesize(
      tts.SynthesizeRequest.fromPartial({ text: SENTENCE, voice: { name: VOICE.voice, rateWpm: 175, pitch: 50 } }),
    );
    call.on("data", (m: tts.SynthesizeResponse) => {
      if (m.event?.$case === "chunk" && firstMs < 0) firstMs = performance.now() - began;
      if (m.event?.$case === "done") audioSeconds = m.event.value.durationMs / 1000;
    });
    call.on("error", reject);
    call.on("end", () => resolve({ firstMs, totalMs: performance.now() - began, audioSeconds }));
  });
}

/** Keeps `concurrency` requests in flight for `seconds`; audio seconds produced per wall second per core. */
async function throughput(run: () => Promise<Timing>): Promise<{ perCore: number; requests: number; errors: number }> {
  const until = performance.now() + seconds * 1000;
  const began = performance.now();
  let audio = 0;
  let requests = 0;
  let errors = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < until) {
        try {
          audio += (await run()).audioSeconds;
          requests++;
        } catch {
          errors++;
        }
      }
    }),
  );
  const wall = (performance.now() - began) / 1000;
  return { perCore: audio / wall / availableParallelism(), requests, errors };
}

async function startService(): Promise<{ child: ChildProcess; target: string }> {
  const [port, metricsPort] = [await freePort(), await freePort()];
  const child = spawn(
    process.execPath,
    ["--enable-source-maps", "--require", "@hotpin/runtime/register", join(__dirname, "..", "main.js")],
    {
      cwd: join(__dirname, "..", ".."),
      env: {
        ...process.env,
        HOTPIN_TTS_HOST: "127.0.0.1",
        HOTPIN_TTS_PORT: String(port),
        HOTPIN_TTS_METRICS_PORT: String(metricsPort),
        HOTPIN_TTS_CACHE_BYTES: "0",
        HOTPIN_TTS_MAX_CONCURRENT: String(concurrency),
        HOTPIN_LOG_LEVEL: "warn",
      },
      stdio: ["ignore", "ignore", "inherit"],
    },
  );
  const target = `127.0.0.1:${port}`;
  const checker = new health.HealthClient(target, grpc.credentials.createInsecure());
  try {
    // Bounded wait for the process to serve (about 30 s: the machine may be busy).
    for (let i = 0; i < 300; i++) {
      if (child.exitCode !== null) throw new Error(`service exited with ${child.exitCode}`);
      const status = await new Promise<number | undefined>((resolve) =>
        checker.check({ service: "" }, new grpc.Metadata(), { deadline: Date.now() + 500 }, (err, res) =>
          resolve(err ? undefined : res.status),
        ),
      );
      if (status === health.HealthCheckResponse_ServingStatus.SERVING) return { child, target };
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error("service did not become SERVING within 30 s");
  } catch (err) {
    // Never leave the service behind when the bench gives up on it.
    child.kill("SIGTERM");
    throw err;
  } finally {
    checker.close();
  }
}

async function main() {
  const { child, target } = await startService();
  const client = new tts.TextToSpeechClient(target, grpc.credentials.createInsecure());
  try {
    for (let i = 0; i < 3; i++) await Promise.all([direct(), viaService(client)]); // warm up
    const d: Timing[] = [];
    const s: Timing[] = [];
    for (let i = 0; i < iterations; i++) {
      // Alternate the order so neither side always runs on a freshly idle machine.
      if (i % 2 === 0) {
        d.push(await direct());
        s.push(await viaService(client));
      } else {
        s.push(await viaService(client));
        d.push(await direct());
      }
    }
    const pct = (xs: Timing[], k: keyof Timing, p: number) =>
      percentile(
        xs.map((x) => x[k]),
        p,
      );
    const service = await throughput(() => viaService(client));
    const engine = await throughput(direct);
    const result = {
      sentence_words: SENTENCE.split(/\s+/).length,
      audio_seconds_per_request: round(s[0]?.audioSeconds ?? 0),
      iterations,
      cores: availableParallelism(),
      concurrency,
      direct_first_chunk_ms_p50: round(pct(d, "firstMs", 50)),
      direct_first_chunk_ms_p99: round(pct(d, "firstMs", 99)),
      service_first_chunk_ms_p50: round(pct(s, "firstMs", 50)),
      service_first_chunk_ms_p99: round(pct(s, "firstMs", 99)),
      first_chunk_ratio_p50: round(pct(s, "firstMs", 50) / pct(d, "firstMs", 50)),
      first_chunk_ratio_p99: round(pct(s, "firstMs", 99) / pct(d, "firstMs", 99)),
      direct_total_ms_p50: round(pct(d, "totalMs", 50)),
      direct_total_ms_p99: round(pct(d, "totalMs", 99)),
      service_total_ms_p50: round(pct(s, "totalMs", 50)),
      service_total_ms_p99: round(pct(s, "totalMs", 99)),
      total_ratio_p50: round(pct(s, "totalMs", 50) / pct(d, "totalMs", 50)),
      total_ratio_p99: round(pct(s, "totalMs", 99) / pct(d, "totalMs", 99)),
      throughput_seconds: seconds,
      audio_seconds_per_second_per_core: round(service.perCore, 2),
      direct_audio_seconds_per_second_per_core: round(engine.perCore, 2),
      throughput_requests: service.requests,
      throughput_errors: service.errors + engine.errors,
    };
    if (args.json) console.log(JSON.stringify(result));
    else for (const [k, v] of Object.entries(result)) console.log(`${k.padEnd(44)} ${v}`);
  } finally {
    client.close();
    child.kill("SIGTERM");
    await once(child, "exit");
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
