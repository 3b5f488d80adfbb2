import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { Mesh, type ServiceName } from "@hotpin/mesh";
import { loadSpeech, runFleet } from "@hotpin/sim";
import { repositoryRoot, startFakeGroq, startNats } from "@hotpin/test-support";

/**
 * Per-service scaling on one machine, as a cluster relies on it: two STT and two TTS replicas
 * behind one client-side round-robin target each (in a cluster the headless Service's DNS lists
 * the pods; here grpc-js's ipv4: target lists the two replicas; the round_robin policy is the
 * same), calls spread over both, capacity adds up, and one replica of each stopped mid-run costs
 * no utterance (the edge retries refused and unavailable calls on the other).
 */
const GOFORWARD = "/usr/share/pocketsphinx/test/data/goforward.raw";
const TOKEN = "scaling-test-token";
// One replica holds this many streams (1 worker × 2) and this many syntheses at once.
const STT_STREAMS = 2;
const TTS_SLOTS = 1;
const DEVICES = 4;
const UTTERANCES = 2;

async function metric(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  let sum = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith(`${name}{`) || line.startsWith(`${name} `))
      sum += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return sum;
}

test("scaling - two STT and two TTS replicas share the load, add up, and one of each stops mid-run without a failed utterance", async () => {
  await using nats = await startNats();
  await using groq = await startFakeGroq({ latency: { firstTokenMs: 20, perTokenMs: 2 } });
  const dataDir = await mkdtemp(join(tmpdir(), "hotpin-scaling-"));
  const common = {
    root: repositoryRoot(),
    natsUrl: nats.url,
    dataDir,
    randomPorts: true,
    env: {
      HOTPIN_LOG_LEVEL: "warn",
      GROQ_API_KEY: "test-key",
      GROQ_BASE_URL: groq.url,
      HOTPIN_STT_ENGINE: "pocketsphinx",
      HOTPIN_STT_WORKERS: "1",
      HOTPIN_STT_STREAMS_PER_WORKER: String(STT_STREAMS),
      HOTPIN_TTS_MAX_CONCURRENT: String(TTS_SLOTS),
      HOTPIN_TTS_CACHE_BYTES: "0",
    },
  };
  const replicas: Mesh[] = [];
  let core: Mesh | undefined;
  try {
    for (let i = 0; i < 2; i++) replicas.push(await Mesh.start({ ...common, only: ["stt", "tts"] }));
    const list = (s: ServiceName) => `ipv4:${replicas.map((m) => m.address(s)).join(",")}`;
    core = await Mesh.start({
      ...common,
      only: ["storage", "llm", "edge"],
      // Generous stage deadlines: this shared machine is slow, and waiting for a free slot (the
      // edge retrying RESOURCE_EXHAUSTED) counts against the STT deadline.
      env: {
        ...common.env,
        HOTPIN_DEVICE_TOKENS: TOKEN,
        HOTPIN_EDGE_STT_TIMEOUT_MS: "60000",
        HOTPIN_EDGE_TTS_TIMEOUT_MS: "60000",
        HOTPIN_EDGE_REFUSED_RETRIES: "100",
      },
      serviceEnv: { edge: { HOTPIN_STT_ADDRESS: list("stt"), HOTPIN_TTS_ADDRESS: list("tts") } },
    });
    for (const m of replicas) for (const s of ["stt", "tts"] as const) await m.waitReady(s);
    for (const s of ["storage", "llm", "edge"] as const) await core.waitReady(s);
    const edgeMetrics = core.ports.edge.metricsPort;

    // Peak streams held at once over both STT replicas, sampled while the fleet talks.
    let peakStreams = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const counts = await Promise.all(
          replicas.map((m) => metric(m.ports.stt.metricsPort, "hotpin_stt_active_streams").catch(() => 0)),
        );
        peakStreams = Math.max(
          peakStreams,
          counts.reduce((a, b) => a + b, 0),
        );
        await new Promise((r) => setTimeout(r, 25));
      }
    })();

    // Stop replica 0 of STT and TTS once a third of the utterances have been answered.
    const victim = replicas[0];
    assert.ok(victim);
    let stopped: Promise<(number | null)[]> | undefined;
    let answered = 0;
    const before = { stt: 0, tts: 0 };
    const fleet = runFleet({
      url: `http://127.0.0.1:${core.ports.edge.port}`,
      dialect: "firmware",
      devices: DEVICES,
      deviceIdPrefix: "scaling",
      token: TOKEN,
      pcm: await loadSpeech(GOFORWARD),
      utterances: UTTERANCES,
      handshakeDelayMs: 0,
      pacing: "fast",
      chunkPauseMs: 0,
      staggerMs: 50,
      replyTimeoutMs: 90_000,
      onEvent: (_, e) => {
        // The simulator notes each finished utterance as "utterance N: <outcome>, …".
        if (e.dir !== "note" || !/^utterance \d+: /.test(e.text)) return;
        answered += 1;
        if (!stopped && answered >= (DEVICES * UTTERANCES) / 3) {
          stopped = (async () => {
            before.stt = await metric(victim.ports.stt.metricsPort, "hotpin_stt_streams_total");
            before.tts = await metric(victim.ports.tts.metricsPort, "hotpin_tts_requests_total");
            return Promise.all([victim.stopService("stt"), victim.stopService("tts")]);
          })();
        }
      },
    });
    const result = await fleet;
    sampling = false;
    await sampler;
    const failures = JSON.stringify(result.devices.filter((d) => !d.ok).map((d) => [d.deviceId, d.error]));
    assert.ok(stopped, `a replica was stopped mid-run (answered ${answered}): ${failures}`);
    assert.deepEqual(await stopped, [0, 0], "the stopped replicas drained and exited 0");

    const survivor = replicas[1];
    assert.ok(survivor);
    const sttCalls = [before.stt, await metric(survivor.ports.stt.metricsPort, "hotpin_stt_streams_total")];
    const ttsCalls = [before.tts, await metric(survivor.ports.tts.metricsPort, "hotpin_tts_requests_total")];
    const utterances = result.devices.flatMap((d) => d.utterances);
    const refused = await metric(edgeMetrics, "hotpin_edge_service_refusals_total");
    const retried = await metric(edgeMetrics, "hotpin_edge_service_retries_total");
    console.log(
      `# scaling: ${utterances.length} utterances, ${result.failed} failed devices; STT streams per replica ${sttCalls.join(" / ")}, ` +
        `TTS calls per replica ${ttsCalls.join(" / ")}; peak streams held at once ${peakStreams} (one replica holds ${STT_STREAMS}); ` +
        `edge refusals ${refused}, retries ${retried}; first audio p50 ${result.firstAudioMs.p50} ms`,
    );

    assert.equal(result.failed, 0, failures);
    assert.equal(utterances.length, DEVICES * UTTERANCES);
    assert.deepEqual(
      utterances.filter((u) => u.outcome !== "complete").map((u) => u.outcome),
      [],
      "zero failed utterances",
    );
    assert.ok(
      sttCalls.every((n) => n > 0),
      `STT calls spread over both replicas: ${sttCalls}`,
    );
    assert.ok(
      ttsCalls.every((n) => n > 0),
      `TTS calls spread over both replicas: ${ttsCalls}`,
    );
    assert.ok(
      peakStreams > STT_STREAMS,
      `capacity adds up: ${peakStreams} streams at once > one replica's ${STT_STREAMS}`,
    );
  } finally {
    await core?.stop();
    for (const m of replicas) await m.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
});
