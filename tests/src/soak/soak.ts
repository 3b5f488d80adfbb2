// Soak (issue 13): simulated firmware devices talk to the real mesh (edge, STT, LLM against the fake
// Groq, TTS, storage, NATS) for a while; the script prints, per process, the median resident memory
// of the first and second half after the warm-up, the devices' errors, and the events the devices saw against the events
// storage stored. A script, not a CI test:
//   node --enable-source-maps tests/dist/soak/soak.js [--devices 100] [--minutes 10] [--rest-s 240] [--warmup-s 240] [--short] [--json]
// `--short`: 10 devices for 1 minute (a quick check that the script and the mesh work).
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { type DeviceResult, loadSpeech, runDevice } from "@hotpin/sim";
import { startFakeGroq, startMesh, TEST_DEVICE_TOKEN } from "@hotpin/test-support";

const GOFORWARD = "/usr/share/pocketsphinx/test/data/goforward.raw";
const SERVICES = ["edge", "stt", "llm", "tts", "storage"] as const;

/**
 * What a device saw, by the event type storage stores for it (the fleet bench's mapping): the
 * "tts" stage implies an LLM answer only after an "llm" stage (an apology for unheard speech has none).
 */
const SEEN: Record<string, (text: string, afterLlm: boolean) => boolean> = {
  connected: (t) => t.includes('"status":"connected"'),
  transcript: (t) => t.includes('"stage":"llm"'),
  llmText: (t, afterLlm) => afterLlm && t.includes('"stage":"tts"'),
  ttsDone: (t) => t.includes('"status":"complete"'),
};

const argv = process.argv.slice(2);
const short = argv.includes("--short");
const num = (flag: string, dflt: number) => {
  const i = argv.indexOf(flag);
  const v = i >= 0 ? Number(argv[i + 1]) : dflt;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${flag} must be a positive number`);
  return v;
};
const DEVICES = Math.round(num("--devices", short ? 10 : 100));
const MINUTES = num("--minutes", short ? 1 : 10);
/**
 * Memory is judged after the warm-up (default: 40 % of the run; storage's heap and allocator
 * settle over ~7 minutes at this rate, services/storage soak). Growth compares the median RSS of
 * the first and the second half of what follows: a leak grows between them, while a sawtooth of
 * garbage collections does not move a median the way it moves a single sample.
 */
const WARMUP_MS = num("--warmup-s", MINUTES * 60 * 0.4) * 1000;
/**
 * Each device rests between conversations (two utterances each). Speech is what costs: 2 cores run
 * about 4 real-time PocketSphinx streams, and the default, one conversation per device every ~4
 * minutes, keeps 100 devices inside that, so an error means a fault rather than an overload (a
 * smaller rest is a capacity test: the STT's refusals turn into spoken apologies).
 */
const REST_MS = num("--rest-s", short ? 10 : 240) * 1000;
const json = argv.includes("--json");
const progress = (line: string) => process.stderr.write(`# ${line}\n`);

/** Resident memory of a process, from /proc (bytes). */
function rss(pid: number | undefined): number | undefined {
  if (!pid) return undefined;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s[Math.floor((s.length - 1) / 2)] as number) : Number.NaN;
};

/** `hotpin_storage_events_stored_total` by type, from storage's /metrics. */
async function storedByType(metricsPort: number): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^hotpin_storage_events_stored_total\{([^}]*)\} (\S+)$/gm)) {
    const type = /type="([^"]*)"/.exec(m[1] as string)?.[1];
    if (type) out.set(type, (out.get(type) ?? 0) + Number(m[2]));
  }
  return out;
}

async function main(): Promise<void> {
  const pcm = await loadSpeech(GOFORWARD);
  await using groq = await startFakeGroq({
    defaultAnswer: "Moving forward ten meters now.",
    transcription: "go forward ten meters",
  });
  progress(`starting the mesh; ${DEVICES} devices for ${MINUTES} min (warm-up ${WARMUP_MS / 1000} s)`);
  await using mesh = await startMesh({
    // The production default: every slot's decoder built at start-up (services/stt README, memory).
    env: { GROQ_API_KEY: "soak-key", GROQ_BASE_URL: groq.url, HOTPIN_STT_WARM_RECOGNIZERS: "64" },
  });
  const pids = Object.fromEntries(SERVICES.map((s) => [s, mesh.mesh.pid(s)]));
  const samples: Record<string, Array<{ atMs: number; bytes: number }>> = Object.fromEntries(
    SERVICES.map((s) => [s, []]),
  );
  const t0 = performance.now();
  const deadline = t0 + MINUTES * 60_000;
  const sampler = setInterval(() => {
    for (const s of SERVICES) {
      const bytes = rss(pids[s]);
      if (bytes !== undefined) samples[s]?.push({ atMs: performance.now() - t0, bytes });
    }
  }, 5_000);

  const results: DeviceResult[] = [];
  const seen = new Map<string, number>();
  const count = (text: string, afterLlm: boolean) => {
    for (const [type, match] of Object.entries(SEEN))
      if (match(text, afterLlm)) seen.set(type, (seen.get(type) ?? 0) + 1);
  };
  await Promise.all(
    Array.from({ length: DEVICES }, async (_, i) => {
      // Starts spread over one rest period, so that the devices do not speak in lockstep.
      await sleep((i * Math.max(5_000, REST_MS)) / DEVICES);
      const deviceId = `soak-${String(i + 1).padStart(3, "0")}`;
      while (performance.now() < deadline) {
        let afterLlm = false;
        const r = await runDevice({
          url: mesh.edgeUrl,
          dialect: "firmware",
          deviceId,
          token: TEST_DEVICE_TOKEN,
          pcm,
          utterances: 2,
          handshakeDelayMs: 200,
          onEvent: (e) => {
            if (e.dir !== "in" || !e.text.includes('"status"')) return;
            count(e.text, afterLlm);
            afterLlm = e.text.includes('"stage":"llm"');
          },
        });
        results.push(r);
        if (!r.ok) progress(`${deviceId}: ${r.error?.message ?? "utterance not complete"}`);
        // The rest ends at the deadline: the run lasts the minutes asked, plus one conversation.
        await sleep(Math.max(0, Math.min(REST_MS, deadline - performance.now())));
      }
    }),
  );
  const runMs = performance.now() - t0;
  progress("devices done; waiting for storage to catch up");
  // Storage lags the devices by at most a batch or a retry: wait (bounded) until the counts match or stop moving.
  let stored = await storedByType(mesh.mesh.ports.storage.metricsPort);
  for (let i = 0; i < 60; i++) {
    const matches = [...seen].every(([type, n]) => (stored.get(type) ?? 0) >= n);
    if (matches) break;
    await sleep(500);
    stored = await storedByType(mesh.mesh.ports.storage.metricsPort);
  }
  clearInterval(sampler);

  const memory = Object.fromEntries(
    SERVICES.map((s) => {
      const xs = samples[s] ?? [];
      const after = xs.filter((x) => x.atMs >= WARMUP_MS);
      const half = Math.floor(after.length / 2);
      const warm = median(after.slice(0, half).map((x) => x.bytes));
      const end = median(after.slice(half).map((x) => x.bytes));
      return [
        s,
        {
          after_warmup_mb: Number((warm / 2 ** 20).toFixed(1)),
          end_mb: Number((end / 2 ** 20).toFixed(1)),
          growth_pct: Number((((end - warm) / warm) * 100).toFixed(1)),
        },
      ];
    }),
  );
  const failed = results.filter((r) => !r.ok);
  const events = Object.fromEntries(
    Object.keys(SEEN).map((type) => [type, { devices_saw: seen.get(type) ?? 0, stored: stored.get(type) ?? 0 }]),
  );
  const out = {
    devices: DEVICES,
    minutes: Number((runMs / 60_000).toFixed(2)),
    sessions: results.length,
    utterances_completed: results.reduce((n, r) => n + r.utterances.filter((u) => u.outcome === "complete").length, 0),
    errors: failed.length,
    memory,
    events,
    rss_growth_ok: Object.values(memory).every((m) => m.growth_pct < 5),
    events_match: Object.values(events).every((e) => e.devices_saw === e.stored),
  };
  if (json) process.stdout.write(`${JSON.stringify(out)}\n`);
  else {
    console.log(
      `soak: ${out.devices} devices, ${out.minutes} min, ${out.sessions} sessions, ${out.utterances_completed} utterances, ${out.errors} errors`,
    );
    for (const [s, m] of Object.entries(memory))
      console.log(
        `  ${s}: RSS median ${m.after_warmup_mb} MB (first half after warm-up) -> ${m.end_mb} MB (second half) (${m.growth_pct} %)`,
      );
    for (const [type, e] of Object.entries(events))
      console.log(`  ${type}: devices saw ${e.devices_saw}, storage stored ${e.stored}`);
  }
  process.exitCode = out.errors === 0 && out.rss_growth_ok && out.events_match ? 0 : 1;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
