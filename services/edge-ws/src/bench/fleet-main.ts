import { loadSpeech } from "@hotpin/sim";
import { round } from "@hotpin/test-support";
import { runFleetBench } from "./fleet";

/**
 * `npm run bench:fleet [-- --json] [-- --devices 6] [-- --utterances 3]`: two edge replicas
 * behind a round-robin front, one killed mid-run, NATS restarted mid-run; events in the stream
 * counted against what the simulated devices saw.
 */
const GOFORWARD = "/usr/share/pocketsphinx/test/data/goforward.raw";

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const value = (flag: string, dflt: number, max: number) => {
    const i = argv.indexOf(flag);
    return Math.min(max, Math.max(1, i >= 0 ? Number(argv[i + 1]) || dflt : dflt));
  };
  const r = await runFleetBench({
    pcm: await loadSpeech(GOFORWARD),
    devices: value("--devices", 6, 40),
    utterances: value("--utterances", 3, 10),
    progress: (line) => process.stderr.write(`# ${line}\n`),
  });
  const num = (x: number, digits = 1) => (Number.isFinite(x) ? round(x, digits) : null);
  if (argv.includes("--json")) {
    process.stdout.write(
      `${JSON.stringify({
        devices: r.devices,
        utterances: r.utterances,
        utterances_completed: r.utterancesCompleted,
        devices_ok: r.devicesOk,
        events_lost: r.eventsLost,
        events: r.events,
        reconnects: r.reconnects,
        reconnect_p50_ms: num(r.reconnectP50Ms),
        reconnect_p99_ms: num(r.reconnectP99Ms),
        devices_moved: r.killedEdgeDevices,
        nats_restarted: r.natsRestarted,
        event_confirm: {
          acked: r.confirm.acked,
          timeouts: r.confirm.timeouts,
          mean_ms: num(r.confirm.meanMs, 2),
          p50_le_ms: num(r.confirm.p50Ms, 2),
          p99_le_ms: num(r.confirm.p99Ms, 2),
        },
        notes: r.notes,
      })}\n`,
    );
    return;
  }
  const lines = [
    `devices ${r.devices}, utterances ${r.utterancesCompleted}/${r.utterances} complete, devices ok ${r.devicesOk}`,
    `reconnects ${r.reconnects} (devices moved ${r.killedEdgeDevices}): p50 ${num(r.reconnectP50Ms)} ms, p99 ${num(r.reconnectP99Ms)} ms`,
    `NATS restarted mid-run: ${r.natsRestarted}`,
    "events (implied by what devices saw → stored in HOTPIN_EVENTS):",
    ...Object.entries(r.events).map(([t, e]) => `  ${t.padEnd(11)} ${String(e.implied).padStart(5)} → ${e.stored}`),
    `events lost: ${r.eventsLost}`,
    `milestone waits for JetStream acks (surviving edge): ${r.confirm.acked} acked, mean ${num(r.confirm.meanMs, 2)} ms, ` +
      `p50 ≤ ${num(r.confirm.p50Ms, 2)} ms, p99 ≤ ${num(r.confirm.p99Ms, 2)} ms; ${r.confirm.timeouts} gave up (NATS away)`,
    ...r.notes.map((n) => `note: ${n}`),
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : err);
    process.exit(1);
  },
);
