import { EVENT_STREAM } from "@hotpin/runtime";
import { type DeviceResult, runFleet, type TimelineEvent } from "@hotpin/sim";
import { percentile, startFakeGroq, startMesh, TEST_DEVICE_TOKEN } from "@hotpin/test-support";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { startEdgeProcess } from "./edge-process";
import { histogramQuantile, sample, scrape } from "./prom-text";
import { startRoundRobinProxy } from "./tcp-proxy";

export interface FleetBenchResult {
  devices: number;
  utterances: number;
  utterancesCompleted: number;
  devicesOk: number;
  /** Per event type: what the devices saw imply (each is published before the device hears it) vs the stream. */
  events: Record<string, { implied: number; stored: number }>;
  eventsLost: number;
  reconnects: number;
  reconnectP50Ms: number;
  reconnectP99Ms: number;
  killedEdgeDevices: number;
  natsRestarted: boolean;
  /** The surviving edge's waits for JetStream acks before device milestones (the latency cost). */
  confirm: { acked: number; timeouts: number; meanMs: number; p50Ms: number; p99Ms: number };
  notes: string[];
}

/**
 * Device messages that prove an event was stored: the edge sends each only after JetStream acked
 * the events before it (session.ts milestones). Every connection's `connected` counts, reconnects
 * included.
 */
const IMPLIED: Record<string, (text: string) => boolean> = {
  connected: (t) => t.includes('"status":"connected"'),
  transcript: (t) => t.includes('"stage":"llm"'),
  llmText: (t) => t.includes('"stage":"tts"'),
  ttsDone: (t) => t.includes('"status":"complete"'),
};

/** A connection cut without a close frame: the edge holding it died (SIGKILL) and published nothing. */
const KILLED = "closed by server, code 1006";

/**
 * `disconnected` events the stream must hold: one per identified connection, except those cut by
 * the killed edge. A disconnect has no device-visible milestone, so the edge cannot wait for its
 * ack; it is checked here all the same (the surviving edge is alive to publish it).
 */
function impliedDisconnects(d: DeviceResult): number {
  const connected = d.timeline.filter((e) => e.dir === "in" && IMPLIED.connected?.(e.text)).length;
  const killed = d.timeline.filter((e) => e.dir === "note" && e.text.startsWith(KILLED)).length;
  return connected - killed;
}

/**
 * Two edge processes on one NATS and one storage (the rest of the mesh shared), a round-robin
 * TCP front, the simulator's fleet through it; one edge is killed (SIGKILL) once every device has
 * finished an utterance, then NATS is stopped and started again. Afterwards the stream's events
 * are counted against what the devices saw.
 */
export async function runFleetBench(opts: {
  pcm: Buffer;
  devices: number;
  utterances: number;
  progress: (line: string) => void;
}): Promise<FleetBenchResult> {
  const notes: string[] = [];
  await using groq = await startFakeGroq({ defaultAnswer: "Moving forward ten meters now." });
  opts.progress("starting the mesh and a second edge");
  await using mesh = await startMesh({ env: { GROQ_API_KEY: "bench-key", GROQ_BASE_URL: groq.url } });
  const edgeB = await startEdgeProcess({
    natsUrl: mesh.nats.url,
    stt: mesh.address("stt"),
    llm: mesh.address("llm"),
    tts: mesh.address("tts"),
    storage: mesh.address("storage"),
    env: { HOTPIN_DEVICE_TOKENS: TEST_DEVICE_TOKEN, HOTPIN_LOG_LEVEL: "warn" },
  });
  const edgeBPort = Number(new URL(edgeB.url).port);
  const proxy = await startRoundRobinProxy([mesh.mesh.ports.edge.port, edgeBPort]);
  try {
    // Which replica each device's first connection went to cannot be seen through the proxy;
    // with round robin and staggered starts, half of them land on each.
    let completes = 0;
    let killed = false;
    let natsRestarted = false;
    const killAt = opts.devices; // every device (on average) has finished one utterance
    const faults: Promise<void>[] = [];
    const onEvent = (_id: string, e: TimelineEvent) => {
      if (e.dir !== "in" || !IMPLIED.ttsDone?.(e.text)) return;
      completes++;
      if (completes === killAt && !killed) {
        killed = true;
        faults.push(
          (async () => {
            opts.progress(`killing edge A (SIGKILL) after ${completes} completed utterances`);
            await mesh.mesh.stopService("edge", "SIGKILL");
          })(),
        );
      }
      if (completes === killAt + Math.ceil(opts.devices / 2) && !natsRestarted) {
        natsRestarted = true;
        faults.push(
          (async () => {
            opts.progress("stopping NATS for 2 s");
            await mesh.nats.stop();
            await new Promise((r) => setTimeout(r, 2_000));
            await mesh.nats.start();
            opts.progress("NATS started again");
          })(),
        );
      }
    };
    const fleet = await runFleet({
      url: `ws://127.0.0.1:${proxy.port}`,
      dialect: "firmware",
      token: TEST_DEVICE_TOKEN,
      pcm: opts.pcm,
      devices: opts.devices,
      utterances: opts.utterances,
      deviceIdPrefix: "fleet",
      staggerMs: 200,
      handshakeDelayMs: 500,
      retries: 5,
      backoff: { baseMs: 200, capMs: 2_000 },
      onEvent,
    });
    await Promise.all(faults);
    if (!killed) notes.push("the fleet ended before the kill point: no replica was killed");
    if (!natsRestarted) notes.push("the fleet ended before the NATS restart point: NATS was not restarted");

    // Let the surviving edge flush what it buffered during the NATS outage (bounded).
    for (let i = 0; i < 100; i++) {
      const buffered = sample(await scrape(edgeB.metricsUrl), "hotpin_edge_events_buffered");
      if (buffered === 0) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    // The devices' last closes reach the surviving edge just after the fleet ends: wait (bounded)
    // for their disconnected events.
    const disconnects = fleet.devices.reduce((n, d) => n + impliedDisconnects(d), 0);
    let stored = await countStoredEvents(mesh.nats.url);
    for (let i = 0; i < 25 && (stored.get("disconnected") ?? 0) < disconnects; i++) {
      await new Promise((r) => setTimeout(r, 200));
      stored = await countStoredEvents(mesh.nats.url);
    }
    const events: FleetBenchResult["events"] = {};
    let eventsLost = 0;
    for (const [type, seen] of Object.entries(IMPLIED)) {
      const implied = fleet.devices.reduce(
        (n, d) => n + d.timeline.filter((e) => e.dir === "in" && seen(e.text)).length,
        0,
      );
      const inStream = stored.get(type) ?? 0;
      events[type] = { implied, stored: inStream };
      eventsLost += Math.max(0, implied - inStream);
    }
    events.disconnected = { implied: disconnects, stored: stored.get("disconnected") ?? 0 };
    eventsLost += Math.max(0, disconnects - events.disconnected.stored);
    const metricsB = await scrape(edgeB.metricsUrl);
    const CONFIRM = "hotpin_edge_event_confirm_seconds";
    const acked = { outcome: "acked" };
    const ackedCount = sample(metricsB, `${CONFIRM}_count`, acked);
    const reconnectMs = fleet.devices.flatMap(reconnectTimes);
    return {
      devices: opts.devices,
      utterances: opts.devices * opts.utterances,
      utterancesCompleted: fleet.devices.reduce(
        (n, d) => n + d.utterances.filter((u) => u.outcome === "complete").length,
        0,
      ),
      devicesOk: fleet.ok,
      events,
      eventsLost,
      reconnects: reconnectMs.length,
      reconnectP50Ms: percentile(reconnectMs, 50),
      reconnectP99Ms: percentile(reconnectMs, 99),
      killedEdgeDevices: fleet.devices.filter((d) => d.connections > 1).length,
      natsRestarted,
      confirm: {
        acked: ackedCount,
        timeouts: sample(metricsB, `${CONFIRM}_count`, { outcome: "timeout" }),
        meanMs: ackedCount ? (sample(metricsB, `${CONFIRM}_sum`, acked) / ackedCount) * 1000 : Number.NaN,
        p50Ms: histogramQuantile(metricsB, CONFIRM, 0.5, acked) * 1000,
        p99Ms: histogramQuantile(metricsB, CONFIRM, 0.99, acked) * 1000,
      },
      notes,
    };
  } finally {
    await proxy.close();
    await edgeB.stop();
  }
}

/** From a drop (a reconnect note) to the next `connected` status on the new connection. */
function reconnectTimes(d: DeviceResult): number[] {
  const out: number[] = [];
  let droppedAt: number | undefined;
  for (const e of d.timeline) {
    if (e.dir === "note" && (e.text.startsWith("closed by server") || e.text.includes("; reconnect ")))
      droppedAt ??= e.atMs;
    else if (droppedAt !== undefined && e.dir === "in" && e.text.includes('"status":"connected"')) {
      out.push(e.atMs - droppedAt);
      droppedAt = undefined;
    }
  }
  return out;
}

/** Messages in the event stream by type (the last subject token), after NATS is back. */
async function countStoredEvents(natsUrl: string): Promise<Map<string, number>> {
  const nc = await connect({ servers: natsUrl, maxReconnectAttempts: 20, waitOnFirstConnect: true });
  try {
    const counts = new Map<string, number>();
    for (let attempt = 0; attempt < 50; attempt++) {
      try {
        const jsm = await jetstreamManager(nc);
        const info = await jsm.streams.info(EVENT_STREAM, { subjects_filter: ">" });
        for (const [subject, n] of Object.entries(info.state.subjects ?? {})) {
          const type = subject.slice(subject.lastIndexOf(".") + 1);
          counts.set(type, (counts.get(type) ?? 0) + n);
        }
        return counts;
      } catch (err) {
        if (attempt === 49) throw err;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    return counts;
  } finally {
    await nc.close();
  }
}
