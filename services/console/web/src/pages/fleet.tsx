import { useEffect, useMemo, useState } from "preact/hooks";
import type { DeviceView, FleetCounts, FleetSnapshot, LatencyPoint, LatencySeries } from "../../../src/api-types";
import { ago, api, ms, useLive } from "../api";
import { TimeChart } from "../components/time-chart";
import { onLinkClick } from "../router";

const STAGE_COLOURS = { stt: "#8957e5", llm: "#bf8700", tts: "#1a7f37", edge: "#0969da" };

function useNow(everyMs = 5000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(t);
  }, [everyMs]);
  return now;
}

export function FleetPage() {
  const [devices, setDevices] = useState<Map<string, DeviceView>>(new Map());
  const [counts, setCounts] = useState<FleetCounts>({ connected: 0, replicas: {}, states: {} });
  const [points, setPoints] = useState<LatencyPoint[]>([]);
  const [unreachable, setUnreachable] = useState<string[]>([]);
  const [error, setError] = useState("");
  const [showGone, setShowGone] = useState(true);
  const now = useNow();

  useEffect(() => {
    api<FleetSnapshot>("GET", "/api/fleet").then(
      (s) => {
        setDevices(new Map(s.devices.map((d) => [d.deviceId, d])));
        setCounts(s.counts);
      },
      (err) => setError((err as Error).message),
    );
    api<LatencySeries>("GET", "/api/latency").then(
      (l) => {
        setPoints(l.points);
        setUnreachable(l.unreachable);
      },
      () => undefined,
    );
  }, []);
  useLive((m) => {
    if (m.type === "device") setDevices((prev) => new Map(prev).set(m.device.deviceId, m.device));
    else if (m.type === "counts") setCounts(m.counts);
    else if (m.type === "latency") {
      setPoints((prev) => [...prev.slice(-359), m.point]);
      setUnreachable(m.unreachable);
    }
  });

  const list = useMemo(() => {
    const all = [...devices.values()].filter((d) => showGone || d.connected);
    return all.sort((a, b) => Number(b.connected) - Number(a.connected) || a.deviceId.localeCompare(b.deviceId));
  }, [devices, showGone]);
  const x = useMemo(() => points.map((p) => p.t / 1000), [points]);
  const firstAudio = useMemo(() => [points.map((p) => p.firstAudioP50), points.map((p) => p.firstAudioP95)], [points]);
  const stages = useMemo(
    () => [
      points.map((p) => p.sttMs),
      points.map((p) => p.llmMs),
      points.map((p) => p.ttsMs),
      points.map((p) => p.edgeMs),
    ],
    [points],
  );
  const latest = [...points].reverse().find((p) => p.firstAudioP50 !== null);
  const replies = points.at(-1)?.replies ?? 0;

  return (
    <>
      <h1>Fleet</h1>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <section class="stats" aria-label="Counts">
        <div class="stat">
          <span class="stat-value" data-testid="connected-count">
            {counts.connected}
          </span>
          <span class="stat-label">connected</span>
        </div>
        <div class="stat">
          <span class="stat-value">{Object.keys(counts.replicas).length}</span>
          <span class="stat-label">edge replicas in use</span>
        </div>
        <div class="stat">
          <span class="stat-value">
            {(counts.states.recording ?? 0) + (counts.states.processing ?? 0) + (counts.states.playing ?? 0)}
          </span>
          <span class="stat-label">in a conversation now</span>
        </div>
        <div class="stat">
          <span class="stat-value" data-testid="first-audio-p50">
            {ms(latest?.firstAudioP50)}
          </span>
          <span class="stat-label">first audio, median</span>
        </div>
      </section>
      {Object.keys(counts.replicas).length > 0 && (
        <p class="replicas">
          {Object.entries(counts.replicas)
            .map(([r, n]) => `${r}: ${n}`)
            .join(" · ")}
        </p>
      )}

      <section aria-labelledby="devices-title">
        <div class="section-head">
          <h2 id="devices-title">Devices</h2>
          <label class="check">
            <input
              type="checkbox"
              checked={showGone}
              onChange={(e) => setShowGone((e.target as HTMLInputElement).checked)}
            />
            show disconnected
          </label>
        </div>
        {list.length === 0 ? (
          <p class="empty">No devices yet. Start one with the virtual device or point a HotPin at the edge.</p>
        ) : (
          <table class="devices">
            <thead>
              <tr>
                <th scope="col">Device</th>
                <th scope="col">Status</th>
                <th scope="col">State</th>
                <th scope="col">Dialect</th>
                <th scope="col">Replica</th>
                <th scope="col">Utterances</th>
                <th scope="col">Last activity</th>
              </tr>
            </thead>
            <tbody>
              {list.map((d) => (
                <tr key={d.deviceId} data-device={d.deviceId}>
                  <th scope="row" data-label="Device">
                    <a href={`/devices/${encodeURIComponent(d.deviceId)}`} onClick={onLinkClick}>
                      {d.deviceId}
                    </a>
                  </th>
                  <td data-label="Status">
                    <span class={d.connected ? "badge on" : "badge off"}>{d.connected ? "connected" : "gone"}</span>
                  </td>
                  <td data-label="State">{d.state || "—"}</td>
                  <td data-label="Dialect">{d.dialect || "—"}</td>
                  <td data-label="Replica">{d.replica || "—"}</td>
                  <td data-label="Utterances">{d.utterances}</td>
                  <td data-label="Last activity">{ago(d.lastActivity, now)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>

      <section aria-labelledby="latency-title">
        <h2 id="latency-title">Latency</h2>
        <p class="hint">
          End of speech → first reply audio, from the edge replicas' own histograms (so as fine as their buckets); each
          point covers the replies of the last minute ({replies} now). A stage's share is its median mark minus the one
          before.
          {unreachable.length > 0 && <span class="warn"> Not reachable: {unreachable.join(", ")}.</span>}
        </p>
        <div class="charts">
          <TimeChart
            title="First audio (p50 and p95)"
            series={[
              { label: "p50", colour: "#0969da" },
              { label: "p95", colour: "#cf222e", dash: [6, 4] },
            ]}
            x={x}
            ys={firstAudio}
          />
          <TimeChart
            title="Stage breakdown (median)"
            series={[
              { label: "STT", colour: STAGE_COLOURS.stt },
              { label: "LLM", colour: STAGE_COLOURS.llm },
              { label: "TTS", colour: STAGE_COLOURS.tts },
              { label: "edge", colour: STAGE_COLOURS.edge },
            ]}
            x={x}
            ys={stages}
          />
        </div>
        {latest && <StageBar point={latest} />}
      </section>
    </>
  );
}

/** The latest breakdown as one bar of proportional parts, with the numbers in text. */
function StageBar({ point }: { point: LatencyPoint }) {
  const parts = [
    { key: "stt", label: "STT", v: point.sttMs ?? 0 },
    { key: "llm", label: "LLM", v: point.llmMs ?? 0 },
    { key: "tts", label: "TTS", v: point.ttsMs ?? 0 },
    { key: "edge", label: "edge", v: point.edgeMs ?? 0 },
  ] as const;
  const sum = parts.reduce((a, p) => a + p.v, 0) || 1;
  return (
    <div class="stagebar" data-testid="stage-breakdown">
      <div class="stagebar-track" aria-hidden="true">
        {parts.map((p) => (
          <span key={p.key} style={{ width: `${(100 * p.v) / sum}%`, background: STAGE_COLOURS[p.key] }} />
        ))}
      </div>
      <ul class="stagebar-legend">
        {parts.map((p) => (
          <li key={p.key}>
            <span class="swatch" style={{ background: STAGE_COLOURS[p.key] }} aria-hidden="true" />
            {p.label} {ms(p.v)}
          </li>
        ))}
      </ul>
    </div>
  );
}
