import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { after, before, test } from "node:test";
import { loadSpeech, runDevice, runFleet } from "@hotpin/sim";
import {
  type CollectedSpan,
  type FakeGroq,
  type OtlpCollector,
  startFakeGroq,
  startMesh,
  startOtlpCollector,
  TEST_DEVICE_TOKEN,
  TEST_OPERATOR_TOKEN,
  type TestMesh,
} from "@hotpin/test-support";
import WebSocket from "ws";
import { ruleFiles } from "./paths";
import { type PrometheusServer, startPrometheus } from "./prometheus-server";
import { recordedNames, shippedQueries } from "./promql";
import { checkQueries, type QueryException, type QueryReport, type Scraped, scrapedNames } from "./query-check";
import { missingTool } from "./tools";

/** Real speech from Debian's pocketsphinx-testdata: "go forward ten meters". */
const GOFORWARD = "/usr/share/pocketsphinx/test/data/goforward.raw";
const SILENCE = Buffer.alloc(32_000); // 1 s of digital silence: judged silence, re-recorded
const ANSWER = "Forward it is. Ten meters.";
const SERVICES = ["edge", "stt", "llm", "tts", "storage", "console"] as const;
/** A 64×48 JPEG: a camera photo for one question (image upload, blob store). */
const PHOTO = Buffer.from(
  "/9j/2wBDABALDA4MChAODQ4SERATGCgaGBYWGDEjJR0oOjM9PDkzODdASFxOQERXRTc4UG1RV19iZ2hnPk1xeXBkeFxlZ2P/2wBDARESEhgVGC8aGi9jQjhCY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2P/wAARCAAwAEADASIAAhEBAxEB/8QAFQABAQAAAAAAAAAAAAAAAAAAAAT/xAAUEAEAAAAAAAAAAAAAAAAAAAAA/8QAFQEBAQAAAAAAAAAAAAAAAAAAAAX/xAAUEQEAAAAAAAAAAAAAAAAAAAAA/9oADAMBAAIRAxEAPwCYBMXgAAAAAAAAAAAAAAAAAAAAAH//2Q==",
  "base64",
);

/**
 * Panels and queries that this run cannot fill, with the reason. Everything else a dashboard
 * shows must come back with data after the simulated fleet.
 */
const EXCEPTIONS: QueryException[] = [
  { where: '"Database errors" B', reason: "no Storage RPC fails in this run (a healthy SQLite)" },
  { where: '"Retention runs" B', reason: "nothing is old enough to be deleted in a minute-long run" },
  {
    where: '"Drains in progress" B',
    reason: "no edge replica is draining in this run (drain.e2e.test.ts covers drains)",
  },
  {
    where: '"STT and TTS refusals seen by the edge"',
    reason: "STT and TTS have room for this small fleet (mesh-load.e2e.test.ts overloads them)",
  },
  { where: '"Device commands by outcome"', reason: "no operator command is sent in this run" },
  {
    where: '"STT wake-word spotting against capacity" D',
    reason: "no session opens a wake-word spotting stream in this run (services/stt and edge wake-spotter tests do)",
  },
  {
    where: '"xiaozhi OTA and activation by outcome"',
    reason: "the fleet run has no xiaozhi device (xiaozhi.e2e.test.ts and ota-handler tests count OTA checks)",
  },
  {
    where: '"Barge-ins and wake words"',
    reason:
      "the fleet run's devices push to talk: no barge-in, no wake word (sesame, xiaozhi and wake-words e2e tests)",
  },
  { where: '"Ready and failing checks" B', reason: "shows only failing checks; every check passes in this run" },
  { where: '"STT refusals" B', reason: "no STT call ends in an error status unless the machine is overloaded" },
  {
    where: '"Downloads by outcome"',
    reason: "no device fetches GET /download in this run (services/edge-ws download tests cover it)",
    missing: ["hotpin_edge_downloads_total"],
  },
  {
    where: '"STT combined engine: finals by source"',
    reason: "the test mesh runs the pocketsphinx engine (its transcripts are checked), not pocketsphinx+groq",
    missing: ["hotpin_stt_combined_finals_total"],
  },
  {
    where: '"Console sign-ins and commands" B',
    reason: "the console sends no device command in this run (console tests cover commands)",
    missing: ["hotpin_console_commands_total"],
  },
];

const quick = { handshakeDelayMs: 0, pacing: "fast", chunkPauseMs: 0 } as const;

const skip = existsSync(GOFORWARD) ? false : `${GOFORWARD} is missing (Debian package pocketsphinx-testdata)`;
if (skip) console.log(`# real-Prometheus tests skipped: ${skip}`);

let groq: FakeGroq | undefined;
let mesh: TestMesh | undefined;
let collector: OtlpCollector | undefined;
let prom: PrometheusServer | undefined;
let scraped: Scraped | undefined;

before(async () => {
  if (skip) return;
  const noPrometheus = await missingTool("prometheus", ["--version"]);
  if (noPrometheus) throw new Error(`${noPrometheus}: scripts/setup.mjs installs the Debian package`);
  groq = await startFakeGroq({ defaultAnswer: ANSWER });
  collector = await startOtlpCollector();
  mesh = await startMesh({
    console: true,
    env: {
      GROQ_API_KEY: "test-key",
      GROQ_BASE_URL: groq.url,
      HOTPIN_LLM_RETRY_BASE_MS: "20",
      HOTPIN_STORAGE_RETENTION_INTERVAL_S: "1",
      // Room for a machine shared with other work: a late transcript is not what this test is about.
      HOTPIN_EDGE_STT_TIMEOUT_MS: "45000",
      OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint,
      OTEL_BSP_SCHEDULE_DELAY: "200",
    },
  });
  const running = mesh;
  const targets = Object.fromEntries(
    SERVICES.map((s) => [`hotpin-${s}`, `127.0.0.1:${running.mesh.ports[s].metricsPort}`]),
  );
  prom = await startPrometheus(targets, ruleFiles());
  // Every target scraped once before the fleet talks: a rate sees only increases after a first
  // sample, so a fleet done before Prometheus's first scrape would leave every burn rate at NaN.
  await prom.scrapedSince(Date.now() / 1000);
  await driveFleet(running, groq);
  await driveConsole(running);
  // Events reach storage and counters reach Prometheus after the devices are done: wait for
  // what the panels and the page need, then for two more scrapes (a rate needs two samples).
  await arrived(prom, running);
  await prom.scrapedSince(Date.now() / 1000 + 1.5);
  scraped = await scrapedNames(prom);
});

after(async () => {
  await prom?.[Symbol.asyncDispose]();
  await mesh?.[Symbol.asyncDispose]();
  await collector?.[Symbol.asyncDispose]();
  await groq?.[Symbol.asyncDispose]();
});

/** A small fleet's morning: good exchanges in both dialects, then each failure the dashboards must show. */
async function driveFleet(m: TestMesh, fake: FakeGroq): Promise<void> {
  const speech = await loadSpeech(GOFORWARD);
  const base = { url: m.edgeUrl, token: TEST_DEVICE_TOKEN, pcm: speech, replyTimeoutMs: 60_000, ...quick };
  const [firmware, spec] = await Promise.all([
    runFleet({ ...base, dialect: "firmware", devices: 2, utterances: 2, deviceIdPrefix: "obs-fw", staggerMs: 20 }),
    runFleet({ ...base, dialect: "spec", devices: 2, deviceIdPrefix: "obs-spec", staggerMs: 20 }),
  ]);
  // On a loaded machine an exchange may fail (that is what the error panels are for); the
  // dashboards need both dialects to have completed some.
  for (const d of [...firmware.devices, ...spec.devices].filter((x) => !x.ok)) {
    console.log(`${d.deviceId} did not complete: ${d.error?.message}`);
  }
  assert.ok(firmware.ok > 0 && spec.ok > 0, "good exchanges complete in both dialects");
  // An LLM 429 from the fake Groq: retried after Retry-After, the device still gets its answer.
  fake.failNext({ kind: "rate-limit", retryAfterSeconds: 0.05 });
  const limited = await runDevice({ ...base, dialect: "spec", deviceId: "obs-429" });
  assert.equal(limited.ok, true, limited.error?.message);
  // A model that is gone: the next fallback model answers.
  fake.failNext({ kind: "decommissioned", status: 404 });
  await runDevice({ ...base, dialect: "spec", deviceId: "obs-fallback" });
  // A question with a photo: upload, blob store, the image goes to the LLM.
  const photo = await runDevice({ ...base, dialect: "firmware", deviceId: "obs-photo", image: PHOTO });
  assert.equal(photo.utterances[0]?.hasImage, true, photo.error?.message);
  // Silence → re-record (twice), then an intervention.
  const silent = await runDevice({ ...base, dialect: "spec", deviceId: "obs-silent", pcm: SILENCE });
  assert.equal(silent.error, undefined, silent.error?.message);
  // The provider failing every attempt: the utterance ends in an error (apology, llm_failed).
  fake.failNext({ kind: "server-error" }, { kind: "server-error" }, { kind: "server-error" });
  await runDevice({ ...base, dialect: "spec", deviceId: "obs-failing" });
  // A bad frame: a protocol error, the connection stays up.
  await badFrame(`${m.edgeUrl.replace("http", "ws")}/ws?session=obs-bad&token=${TEST_DEVICE_TOKEN}`);
  // A device with a wrong token is refused at the handshake.
  await refused(`${m.edgeUrl.replace("http", "ws")}/ws?session=obs-intruder&token=wrong-token`);
}

/** Series the fleet run must have put into Prometheus before any panel is judged, and why. */
const ARRIVALS: Array<[string, string]> = [
  ["sum(hotpin_storage_events_stored_total) > 0", "storage wrote the fleet's events"],
  ['sum(hotpin_edge_utterances_total{outcome="failed"}) > 0', "the edge counted the failed utterance"],
  ['sum(hotpin_edge_utterances_total{outcome="replied"}) > 0', "the edge counted replies"],
];

/**
 * Waits (bounded) until Prometheus holds each of ARRIVALS; on timeout fails with what the
 * processes themselves export, so a miss tells Prometheus's side from the mesh's.
 */
async function arrived(p: PrometheusServer, m: TestMesh, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const missing: string[] = [];
    for (const [query, what] of ARRIVALS) {
      const r = await p.api("query", { query });
      if (!r.data?.result?.length) missing.push(`${what} (${query})`);
    }
    if (missing.length === 0) return;
    if (Date.now() > deadline) {
      const targets = await p.api("targets");
      // biome-ignore lint/suspicious/noExplicitAny: the targets API's entries
      const health = (targets.data?.activeTargets ?? []).map((t: any) => `${t.labels.job}: ${t.health} ${t.lastError}`);
      const own = async (s: "edge" | "storage", prefix: string) => {
        const text = await fetch(`http://127.0.0.1:${m.mesh.ports[s].metricsPort}/metrics`).then(
          (r) => r.text(),
          (err: Error) => `unreachable: ${err.message}`,
        );
        return text
          .split("\n")
          .filter((l) => l.startsWith(prefix))
          .join("\n");
      };
      assert.fail(
        `not in Prometheus after ${timeoutMs} ms: ${missing.join("; ")}\ntargets: ${health.join("; ")}\n` +
          `storage exports:\n${await own("storage", "hotpin_storage_events")}\n` +
          `edge exports:\n${await own("edge", "hotpin_edge_utterances_total")}\n${await own("edge", "hotpin_edge_events")}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** An operator's visit to the console: a mistyped token, a sign-in, the fleet page. */
async function driveConsole(m: TestMesh): Promise<void> {
  const signIn = (token: string) =>
    fetch(`${m.consoleUrl}/api/session`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ token }),
    });
  assert.equal((await signIn("not-the-operator-token")).status, 401);
  const ok = await signIn(TEST_OPERATOR_TOKEN);
  assert.equal(ok.status, 200);
  const cookie = (ok.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
  assert.equal((await fetch(`${m.consoleUrl}/api/fleet`, { headers: { cookie } })).status, 200);
}

function refused(url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.on("unexpected-response", (_req, res) => {
      ws.terminate();
      if (res.statusCode === 401) resolve();
      else reject(new Error(`a wrong token got HTTP ${res.statusCode}`));
    });
    ws.on("open", () => {
      ws.terminate();
      reject(new Error("a wrong token was let in"));
    });
    ws.on("error", () => undefined);
  });
}

function badFrame(url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error("no error answer to a bad frame within 10 s"));
    }, 10_000);
    ws.on("error", reject);
    ws.on("message", (data, binary) => {
      if (binary) return;
      const msg = JSON.parse(String(data)) as { type?: string; code?: string };
      if (msg.type === "ready") ws.send("[1,2]");
      if (msg.type === "error" && msg.code === "bad_message") {
        clearTimeout(timer);
        ws.close();
        resolve();
      }
    });
  });
}

function describe(reports: QueryReport[]): string {
  return reports.map((r) => `${r.query.where}: ${r.problems.join("; ") || "no data"}\n    ${r.query.expr}`).join("\n");
}

test("prometheus - every panel query and rule parses on a real Prometheus and names only scraped metrics", {
  skip,
}, async () => {
  assert.ok(prom && scraped);
  const queries = shippedQueries();
  assert.ok(queries.length > 100, `${queries.length} queries`);
  const reports = await checkQueries(prom, queries, scraped, recordedNames(), EXCEPTIONS);
  const bad = reports.filter((r) => r.problems.length > 0);
  assert.equal(bad.length, 0, `\n${describe(bad)}`);
});

test("prometheus - the panels the fleet run fills return data; exceptions are listed with reasons", {
  skip,
}, async () => {
  assert.ok(prom && scraped);
  const reports = await checkQueries(prom, shippedQueries(), scraped, recordedNames(), EXCEPTIONS);
  const excepted = (r: QueryReport) => EXCEPTIONS.some((e) => r.query.where.includes(e.where));
  const empty = reports.filter((r) => (r.query.kind === "panel" || r.query.kind === "variable") && r.empty);
  assert.equal(empty.filter((r) => !excepted(r)).length, 0, `\n${describe(empty.filter((r) => !excepted(r)))}`);
  for (const r of empty.filter(excepted)) {
    console.log(
      `# empty by exception: ${r.query.where}: ${EXCEPTIONS.find((e) => r.query.where.includes(e.where))?.reason}`,
    );
  }
  // The failures driven above are on the dashboards, by reason and code.
  const shown = async (q: string) => (await prom?.api("query", { query: q }))?.data?.result?.length ?? 0;
  assert.ok(await shown('hotpin_edge_rerecords_total{reason="silence"} > 0'), "silence re-records");
  assert.ok(await shown('hotpin_edge_interventions_total{reason="silence"} > 0'), "intervention after silence");
  assert.ok(await shown('hotpin_edge_utterance_failures_total{stage="llm", code="llm_failed"} > 0'), "LLM failure");
  assert.ok(await shown('hotpin_edge_protocol_errors_total{code="bad_message"} > 0'), "bad frame");
  assert.ok(await shown('hotpin_llm_retries_total{reason="rate_limited"} > 0'), "LLM 429 retried");
  assert.ok(
    await shown('hotpin_edge_connections_refused_total{reason="unauthorized_invalid"} > 0'),
    "wrong token refused",
  );
  // The objectives' recordings are computed from this run's data.
  const slo = reports.filter((r) => r.query.kind === "record" && r.query.name.endsWith("ratio_rate5m"));
  assert.equal(slo.length, 2);
  assert.deepEqual(
    slo.filter((r) => r.empty).map((r) => r.query.name),
    [],
  );
  // Prometheus itself evaluated every rule without an error.
  const rules = await prom.api("rules");
  // biome-ignore lint/suspicious/noExplicitAny: the rules API's groups
  const unhealthy = rules.data.groups.flatMap((g: any) => g.rules).filter((r: any) => r.health !== "ok");
  assert.deepEqual(
    unhealthy.map((r: { name: string; lastError: string }) => `${r.name}: ${r.lastError}`),
    [],
  );
});

test("prometheus - the failed utterance burns the error budget: the page fires on real data, nothing is lost", {
  skip,
}, async () => {
  assert.ok(prom);
  const firing = async () => {
    const r = await prom?.api("alerts");
    // biome-ignore lint/suspicious/noExplicitAny: the alerts API's entries
    return (r?.data?.alerts ?? []).filter((a: any) => a.state === "firing").map((a: any) => a.labels);
  };
  // Rules are evaluated every second, but the burn rates need fresh scrapes of the failure first:
  // bounded generously, as a busy CI machine scrapes late.
  const deadline = Date.now() + 60_000;
  let alerts = await firing();
  while (
    !alerts.some((a: Record<string, string>) => a.alertname === "HotpinUtteranceErrors" && a.severity === "page")
  ) {
    if (Date.now() >= deadline) {
      // What the alert reads, so a miss says whether the data or the rule is off.
      const values: Record<string, unknown> = {};
      for (const q of [
        "hotpin:utterance_errors:ratio_rate5m",
        "hotpin:utterance_errors:ratio_rate1h",
        "sum by (outcome) (hotpin_edge_utterances_total)",
      ])
        values[q] = (await prom.api("query", { query: q }))?.data?.result;
      assert.fail(`HotpinUtteranceErrors did not fire; firing: ${JSON.stringify(alerts)}; ${JSON.stringify(values)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
    alerts = await firing();
  }
  const names = alerts.map((a: Record<string, string>) => a.alertname);
  for (const quiet of [
    "HotpinEventsLost",
    "HotpinEventsRejected",
    "HotpinEventsDeadLettered",
    "HotpinNatsDisconnected",
    "HotpinLlmCircuitOpen",
  ]) {
    assert.ok(!names.includes(quiet), `${quiet} fires: ${JSON.stringify(alerts)}`);
  }
});

test("prometheus - a broken query and a renamed metric fail the check", { skip }, async () => {
  assert.ok(prom && scraped);
  const [broken, renamed, fine] = await checkQueries(
    prom,
    [
      {
        where: "broken",
        name: "broken",
        kind: "panel",
        expr: "sum(rate(hotpin_edge_utterances_total[$__rate_interval])",
      },
      { where: "renamed", name: "renamed", kind: "panel", expr: "sum(rate(hotpin_edge_utterance_total[5m]))" },
      { where: "fine", name: "fine", kind: "panel", expr: "sum(rate(hotpin_edge_utterances_total[5m]))" },
    ],
    scraped,
    recordedNames(),
  );
  assert.match(broken?.problems.join() ?? "", /refuses it: bad_data/);
  assert.match(renamed?.problems.join() ?? "", /names hotpin_edge_utterance_total, which no process exported/);
  assert.deepEqual(fine?.problems, []);
  assert.equal(fine?.empty, false);
});

test("prometheus - the exported metrics are the ones the source declares (no label holds a device id)", {
  skip,
}, async () => {
  assert.ok(prom && scraped);
  const { exportedMetrics } = await import("./inventory.js");
  const declared = new Set((await exportedMetrics()).keys());
  const hotpin = [...scraped.families].filter((n) => n.startsWith("hotpin_"));
  assert.deepEqual(
    // Scraped as OpenMetrics, a counter's family is its name without `_total`.
    hotpin.filter((n) => !declared.has(n) && !declared.has(`${n}_total`)),
    [],
    "scraped but not found by the source scan",
  );
  const devices = await prom.api("series", { "match[]": '{__name__=~"hotpin_.+"}' });
  // biome-ignore lint/suspicious/noExplicitAny: series label sets
  const leaked = (devices.data as any[]).filter((s) => JSON.stringify(s).includes("obs-"));
  assert.deepEqual(leaked, [], "a device id appears in a label");
});

test("exemplars - a first-audio observation carries its utterance's trace id, and that trace was exported", {
  skip,
}, async () => {
  assert.ok(prom && collector);
  const now = Date.now() / 1000;
  const r = await prom.api("query_exemplars", {
    query: 'hotpin_edge_stage_seconds_bucket{stage="first_audio"}',
    start: String(now - 3600),
    end: String(now + 60),
  });
  assert.equal(r.status, "success", r.error);
  const ids = new Set<string>(
    // biome-ignore lint/suspicious/noExplicitAny: the exemplars API's series
    (r.data as any[]).flatMap((s) => s.exemplars.map((e: { labels: { trace_id?: string } }) => e.labels.trace_id)),
  );
  assert.ok(ids.size > 0, `no exemplar on first_audio: ${JSON.stringify(r.data)}`);
  assert.ok(![...ids].some((id) => !/^[0-9a-f]{32}$/.test(id ?? "")), `trace ids: ${[...ids].join(", ")}`);
  await collector.waitFor((all) => all.some((s) => s.name === "edge.utterance" && ids.has(s.traceId)), 30_000);
});

/**
 * Span names of a trace: the stage (`edge.utterance`, `stt.recognize`…), or an OpenTelemetry
 * convention: gRPC `grpc.<package>.<Service>/<Method>`, GenAI `chat <model>`, messaging
 * `<destination> process`, HTTP `<METHOD>`.
 */
const STAGE_NAME =
  /^(edge|stt|llm|tts|storage)\.[a-z_]+$|^grpc\.hotpin\.[a-z]+\.v1\.\w+\/\w+$|^chat \S+$|^hotpin\.events process$|^(GET|POST|PUT|DELETE)\b/;

/** The spans of one trace as a tree: each span's ancestors by span id. */
function ancestors(spans: CollectedSpan[], span: CollectedSpan): CollectedSpan[] {
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  const out: CollectedSpan[] = [];
  for (let p = byId.get(span.parentSpanId); p; p = byId.get(p.parentSpanId)) out.push(p);
  return out;
}

test("trace - one utterance reads as stages: edge.utterance holds the STT, LLM and TTS spans; no user text anywhere", {
  skip,
}, async () => {
  assert.ok(collector);
  const complete = (all: CollectedSpan[]) =>
    all
      .filter((s) => s.name === "edge.utterance")
      .find((u) => {
        const inTrace = all.filter((s) => s.traceId === u.traceId);
        return ["stt.recognize", "llm.chat", "tts.synthesize"].every((n) => inTrace.some((s) => s.name === n));
      });
  const spans = await collector.waitFor((all) => complete(all) !== undefined, 30_000);
  const utterance = complete(spans);
  assert.ok(utterance);
  const inTrace = spans.filter((s) => s.traceId === utterance.traceId);
  const names = inTrace.map((s) => `${s.service}:${s.name}`).sort();
  for (const [service, name] of [
    ["hotpin-stt", "stt.recognize"],
    ["hotpin-llm", "llm.chat"],
    ["hotpin-tts", "tts.synthesize"],
  ] as const) {
    const stage = inTrace.find((s) => s.service === service && s.name === name);
    assert.ok(stage, `${name} in ${names.join(", ")}`);
    // The stage span hangs under the edge's utterance span (through the edge's gRPC client span).
    assert.ok(
      ancestors(inTrace, stage).some((a) => a.spanId === utterance.spanId),
      `${name} under edge.utterance`,
    );
  }
  const provider = inTrace.find((s) => s.service === "hotpin-llm" && s.name.startsWith("chat "));
  assert.ok(provider, `the provider call in ${names.join(", ")}`);
  assert.equal(provider.attributes["gen_ai.operation.name"], "chat");
  assert.equal(typeof provider.attributes["gen_ai.request.model"], "string");
  // Every span name says its stage or follows a semantic convention (gRPC method, GenAI, messaging).
  for (const s of inTrace) {
    assert.match(s.name, STAGE_NAME, `${s.service}: ${s.name} (all: ${names.join(", ")})`);
  }
  // No user text, transcript, answer or token in names or attributes of any span of the run.
  const text = JSON.stringify(spans.map((s) => [s.name, s.attributes]));
  for (const secret of ["go forward", "forward ten", ANSWER, "Ten meters", TEST_DEVICE_TOKEN, "test-key"]) {
    assert.ok(!text.toLowerCase().includes(secret.toLowerCase()), `a span carries "${secret}"`);
  }
  assert.ok(!Object.keys(Object.assign({}, ...spans.map((s) => s.attributes))).some((k) => k.includes("pii")));
});
