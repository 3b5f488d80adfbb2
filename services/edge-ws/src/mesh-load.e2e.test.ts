import assert from "node:assert/strict";
import { test } from "node:test";
import { loadSpeech, runFleet } from "@hotpin/sim";
import { TEST_DEVICE_TOKEN } from "@hotpin/test-support";
import { sample, scrape } from "./bench/prom-text";
import { GOFORWARD, meshSkip, useMesh } from "./mesh-fixture.test-util";

/**
 * 20 firmware devices at once through the whole mesh, against an STT pool of 2 workers × 6
 * streams = 12: the last devices' streams are refused (RESOURCE_EXHAUSTED at once), and the
 * edge must absorb that (retry with backoff while buffering, or RecognizeFile after the stop),
 * so every device still completes. Set HOTPIN_EDGE_SKIP_MESH=1 to leave it out.
 */
const ANSWER = "Moving forward ten meters now.";
const DEVICES = 20;
const STT_WORKERS = 2;
const STT_STREAMS_PER_WORKER = 6;
const skip = meshSkip("mesh load end-to-end test");

const fx = useMesh(skip, ANSWER, {
  serviceEnv: {
    // What this test is about is that queued devices are served at all, not how fast: a slow
    // machine gets the time (a fifth of real time per stream here can be half of it on CI).
    edge: { HOTPIN_EDGE_STT_TIMEOUT_MS: "60000", HOTPIN_EDGE_REFUSED_RETRIES: "100" },
    stt: {
      HOTPIN_STT_WORKERS: String(STT_WORKERS),
      HOTPIN_STT_STREAMS_PER_WORKER: String(STT_STREAMS_PER_WORKER),
    },
  },
});

const metrics = (name: "edge" | "stt") => scrape(`http://127.0.0.1:${fx.mesh.mesh.ports[name].metricsPort}/metrics`);

test(`mesh load - ${DEVICES} firmware devices at once all complete though STT holds ${STT_WORKERS * STT_STREAMS_PER_WORKER} streams`, {
  skip,
}, async () => {
  const fleet = await runFleet({
    url: fx.mesh.edgeUrl,
    dialect: "firmware",
    token: TEST_DEVICE_TOKEN,
    pcm: await loadSpeech(GOFORWARD),
    devices: DEVICES,
    deviceIdPrefix: "load",
    // Real fleets do not start in the same millisecond; firmware pacing and handshake delay kept.
    staggerMs: 50,
    replyTimeoutMs: 90_000,
  });
  const [edge, stt] = await Promise.all([metrics("edge"), metrics("stt")]);
  const refused = {
    stream: sample(edge, "hotpin_edge_service_refusals_total", { service: "stt", call: "stream" }),
    file: sample(edge, "hotpin_edge_service_refusals_total", { service: "stt", call: "file" }),
    tts: sample(edge, "hotpin_edge_service_refusals_total", { service: "tts" }),
  };
  const retried = {
    stream: sample(edge, "hotpin_edge_service_retries_total", { service: "stt", call: "stream" }),
    file: sample(edge, "hotpin_edge_service_retries_total", { service: "stt", call: "file" }),
    tts: sample(edge, "hotpin_edge_service_retries_total", { service: "tts" }),
  };
  console.log(
    `# ${DEVICES} devices in ${Math.round(fleet.wallMs)} ms; STT refused ${sample(stt, "hotpin_stt_refused_total")}; ` +
      `edge saw refusals ${JSON.stringify(refused)}, retried ${JSON.stringify(retried)}; ` +
      `first audio p50 ${Math.round(fleet.firstAudioMs.p50 ?? 0)} ms, max ${Math.round(fleet.firstAudioMs.max ?? 0)} ms; ` +
      [...edge].filter(([k]) => k.startsWith("hotpin_edge_utterances_total")).join(" "),
  );
  const failures = fleet.devices
    .filter((d) => !d.ok)
    .map((d) => `${d.deviceId}: ${d.error?.message ?? d.utterances[0]?.serverError?.message ?? "?"}`);
  assert.deepEqual(failures, [], "every device completes");
  for (const d of fleet.devices) {
    assert.match(String(d.utterances[0]?.transcript), /go forward/, `${d.deviceId} transcript`);
    assert.equal(d.utterances[0]?.response, ANSWER);
  }
  // The pool really was exceeded, and the edge saw it and retried (not a larger pool in disguise).
  assert.ok(sample(stt, "hotpin_stt_refused_total") > 0, "STT refused some streams");
  assert.ok(refused.stream > 0, "the edge saw refused streams");
  assert.ok(retried.stream + retried.file > 0, "the edge retried them");
});
