import { useCallback, useEffect, useState } from "preact/hooks";
import type {
  CommandName,
  CommandResult,
  DeviceDetail,
  DeviceHistory,
  DeviceView,
  TimelineEntry,
  TurnLatency,
} from "../../../src/api-types";
import { ApiError, ago, api, clock, ms, useLive } from "../api";

const LABELS: Record<string, string> = {
  connected: "Connected",
  disconnected: "Disconnected",
  recording_started: "Recording started",
  recording_stopped: "Recording stopped",
  llm_text: "Answer",
  tts_started: "Speaking",
  tts_done: "Reply sent",
  rerecord: "Re-record asked",
  error: "Error",
  image_received: "Image received",
  state_changed: "State",
  log: "Log",
  wake_word: "Wake word",
};

function describe(e: TimelineEntry): { label: string; text: string; kind: string } {
  const f = e.fields;
  const s = (k: string) => (f[k] === undefined ? "" : String(f[k]));
  switch (e.event) {
    case "transcription":
      return f.is_final
        ? { label: "Transcript", text: s("text") || "(nothing understood)", kind: "transcript" }
        : { label: "Partial", text: s("text"), kind: "partial" };
    case "llm_text":
      return { label: "Answer", text: s("text"), kind: "answer" };
    case "rerecord":
      return {
        label: f.intervention ? "User intervention asked" : "Re-record asked",
        text: `${s("reason")} (attempt ${s("attempt")})`,
        kind: "warn",
      };
    case "error":
      return { label: "Error", text: `${s("code")}: ${s("message")}`, kind: "error" };
    case "connected":
      return { label: "Connected", text: `${s("dialect")} dialect, session ${s("session_id")}`, kind: "conn" };
    case "disconnected":
      return {
        label: "Disconnected",
        text: `close ${s("close_code")}${f.reason ? `, ${s("reason")}` : ""}`,
        kind: f.clean ? "conn" : "error",
      };
    case "state_changed":
      return { label: "State", text: `${s("from")} → ${s("to")}`, kind: "state" };
    case "recording_stopped":
      return { label: "Recording stopped", text: `${s("duration_ms")} ms, ${s("chunks")} chunks`, kind: "state" };
    case "tts_done":
      return { label: "Reply sent", text: `${s("duration_ms")} ms of audio`, kind: "state" };
    case "image_received":
      return { label: "Image received", text: `${s("width")}×${s("height")}`, kind: "image" };
    case "log":
      return { label: `Log (${s("level")})`, text: s("message"), kind: "state" };
    case "wake_word": {
      // source: "server" (the STT spotter, with its score) or "device" (the device's own, no score).
      const score = f.source === "server" ? `, ${Math.round(Number(f.confidence) * 100)} %` : "";
      return { label: "Wake word", text: `“${s("word")}” (${s("source")}${score})`, kind: "state" };
    }
    default:
      return {
        label: LABELS[e.event] ?? e.event,
        text: f.utterance !== undefined ? `utterance ${s("utterance")}` : "",
        kind: "state",
      };
  }
}

export function DevicePage({ deviceId }: { deviceId: string }) {
  const [device, setDevice] = useState<DeviceView | undefined>(undefined);
  const [timeline, setTimeline] = useState<TimelineEntry[]>([]);
  const [turns, setTurns] = useState<TurnLatency[]>([]);
  const [history, setHistory] = useState<DeviceHistory | undefined>(undefined);
  const [historyError, setHistoryError] = useState("");
  const [hideState, setHideState] = useState(true);

  const loadHistory = useCallback(() => {
    api<DeviceHistory>("GET", `/api/devices/${encodeURIComponent(deviceId)}/history`).then(
      (h) => {
        setHistory(h);
        setHistoryError("");
      },
      (err) => setHistoryError((err as Error).message),
    );
  }, [deviceId]);

  useEffect(() => {
    api<DeviceDetail>("GET", `/api/devices/${encodeURIComponent(deviceId)}`).then((d) => {
      setDevice(d.device);
      setTimeline(d.timeline);
      setTurns(d.turns);
    });
    loadHistory();
  }, [deviceId, loadHistory]);

  useLive((m) => {
    if (m.type === "device" && m.device.deviceId === deviceId) setDevice(m.device);
    if (m.type === "timeline" && m.deviceId === deviceId) {
      setTimeline((prev) => {
        const at = prev.findIndex((e) => e.id === m.entry.id);
        if (at >= 0) return prev.map((e, i) => (i === at ? m.entry : e));
        const last = prev.at(-1);
        // A partial replaces the partial before it (as on the server).
        const base =
          m.entry.event === "transcription" &&
          m.entry.fields.is_final === false &&
          last?.event === "transcription" &&
          last.fields.is_final === false
            ? prev.slice(0, -1)
            : prev;
        return [...base, m.entry].slice(-200);
      });
    }
    if (m.type === "turn" && m.deviceId === deviceId) {
      setTurns((prev) => {
        const rest = prev.filter((t) => !(t.sessionId === m.turn.sessionId && t.utterance === m.turn.utterance));
        return [...rest, m.turn].slice(-50);
      });
      if (m.turn.outcome === "replied") setTimeout(loadHistory, 1500);
    }
  }, deviceId);

  const shown = hideState ? timeline.filter((e) => e.event !== "state_changed") : timeline;
  return (
    <>
      <h1>
        Device <span class="mono">{deviceId}</span>
      </h1>
      <DeviceSummary device={device} />
      <Actions deviceId={deviceId} connected={device?.connected ?? false} />
      <div class="columns">
        <section aria-labelledby="timeline-title" class="card">
          <div class="section-head">
            <h2 id="timeline-title">Live timeline</h2>
            <label class="check">
              <input
                type="checkbox"
                checked={hideState}
                onChange={(e) => setHideState((e.target as HTMLInputElement).checked)}
              />
              hide state changes
            </label>
          </div>
          {shown.length === 0 ? (
            <p class="empty">Nothing yet: events appear here as the device talks.</p>
          ) : (
            <div
              class="scroll timeline-box"
              role="log"
              aria-live="polite"
              aria-relevant="additions"
              aria-labelledby="timeline-title"
              // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling region must take focus to scroll by keyboard (WCAG 2.1.1)
              tabIndex={0}
              data-testid="timeline"
            >
              <ol class="timeline">
                {[...shown].reverse().map((e) => {
                  const d = describe(e);
                  return (
                    <li key={e.id} class={`tl tl-${d.kind}`}>
                      <time dateTime={new Date(e.time).toISOString()}>{clock(e.time)}</time>
                      <span class="tl-label">{d.label}</span>
                      <span class="tl-text">{d.text}</span>
                      {e.thumbnailBlobId && <Thumbnail blobId={e.thumbnailBlobId} />}
                    </li>
                  );
                })}
              </ol>
            </div>
          )}
        </section>
        <section aria-labelledby="turns-title" class="card">
          <h2 id="turns-title">Latency per turn</h2>
          <TurnTable turns={turns} />
        </section>
      </div>
      <section aria-labelledby="conv-title" class="card">
        <div class="section-head">
          <h2 id="conv-title">Recent turns (storage)</h2>
          <button type="button" class="secondary" onClick={loadHistory}>
            Refresh
          </button>
        </div>
        {historyError && (
          <p class="error" role="alert">
            {historyError}
          </p>
        )}
        {history && history.turns.length === 0 && <p class="empty">No conversation kept (none yet, or it expired).</p>}
        {history && history.turns.length > 0 && (
          <ol class="conversation" data-testid="stored-turns">
            {history.turns.map((t, i) => (
              <li key={`${t.time}-${i}`} class={`bubble ${t.role}`}>
                <span class="who">{t.role === "user" ? "Device" : "Assistant"}</span>
                <span class="what">{t.text}</span>
                {t.hadImage &&
                  t.role === "user" &&
                  (t.thumbnailBlobId ? (
                    <Thumbnail blobId={t.thumbnailBlobId} />
                  ) : (
                    <span class="hint">(with an image)</span>
                  ))}
                <time dateTime={new Date(t.time).toISOString()}>{clock(t.time)}</time>
              </li>
            ))}
          </ol>
        )}
        {history && history.sessions.length > 0 && (
          <details>
            <summary>Sessions ({history.sessions.length})</summary>
            <ul class="plain">
              {history.sessions.map((s) => (
                <li key={s.id}>
                  <span class="mono">{s.id}</span> · {s.dialect} on {s.replica || "?"} ·{" "}
                  {new Date(s.startedAt).toLocaleString()} · {s.status}
                </li>
              ))}
            </ul>
          </details>
        )}
      </section>
    </>
  );
}

function DeviceSummary({ device }: { device: DeviceView | undefined }) {
  if (!device) return <p class="empty">The console has not seen this device since it started.</p>;
  return (
    <dl class="summary" data-testid="device-summary">
      <div>
        <dt>Status</dt>
        <dd>
          <span class={device.connected ? "badge on" : "badge off"}>{device.connected ? "connected" : "gone"}</span>
        </dd>
      </div>
      <div>
        <dt>State</dt>
        <dd data-testid="device-state">{device.state || "—"}</dd>
      </div>
      <div>
        <dt>Dialect</dt>
        <dd>{device.dialect || "—"}</dd>
      </div>
      <div>
        <dt>Replica</dt>
        <dd>{device.replica || "—"}</dd>
      </div>
      <div>
        <dt>Utterances</dt>
        <dd>{device.utterances}</dd>
      </div>
      <div>
        <dt>Last activity</dt>
        <dd>{ago(device.lastActivity)}</dd>
      </div>
    </dl>
  );
}

function Actions({ deviceId, connected }: { deviceId: string; connected: boolean }) {
  const [text, setText] = useState("");
  const [busy, setBusy] = useState<CommandName | undefined>(undefined);
  const [result, setResult] = useState<{ ok: boolean; text: string } | undefined>(undefined);
  const run = async (command: CommandName, body: { text?: string } = {}) => {
    setBusy(command);
    setResult(undefined);
    try {
      const r = await api<CommandResult>("POST", `/api/devices/${encodeURIComponent(deviceId)}/commands`, {
        command,
        ...body,
      });
      const names: Record<string, string> = {
        say: "Said",
        rerecord: "Re-record asked",
        disconnect: "Disconnected",
        reset: "Conversation reset",
        state: "State read",
      };
      setResult(
        r.ok
          ? {
              ok: true,
              text: `${names[command]}: delivered${r.state ? ` (${r.state.state} on ${r.state.replica})` : ""}.`,
            }
          : { ok: false, text: `Refused (${r.error}): ${r.message}` },
      );
      if (r.ok && command === "say") setText("");
    } catch (err) {
      setResult({ ok: false, text: err instanceof ApiError ? err.message : "The console could not be reached." });
    } finally {
      setBusy(undefined);
    }
  };
  return (
    <section aria-labelledby="actions-title" class="card actions">
      <h2 id="actions-title">Actions</h2>
      <form
        class="say"
        onSubmit={(e) => {
          e.preventDefault();
          void run("say", { text });
        }}
      >
        <label for="say-text">Say on the device</label>
        <div class="row">
          <input
            id="say-text"
            type="text"
            maxLength={1000}
            value={text}
            onInput={(e) => setText((e.target as HTMLInputElement).value)}
          />
          <button type="submit" disabled={!text.trim() || busy !== undefined || !connected}>
            {busy === "say" ? "Saying…" : "Say"}
          </button>
        </div>
      </form>
      <div class="row buttons">
        <button
          type="button"
          class="secondary"
          disabled={busy !== undefined || !connected}
          onClick={() => run("rerecord")}
        >
          Ask to re-record
        </button>
        <button
          type="button"
          class="secondary"
          disabled={busy !== undefined || !connected}
          onClick={() => run("reset")}
        >
          Reset conversation
        </button>
        <button
          type="button"
          class="danger"
          disabled={busy !== undefined || !connected}
          onClick={() => run("disconnect")}
        >
          Disconnect
        </button>
      </div>
      <p class={result ? (result.ok ? "ok" : "error") : "hint"} role="status" data-testid="command-result">
        {result?.text ?? (connected ? "" : "The device is not connected: commands need a connected device.")}
      </p>
    </section>
  );
}

function TurnTable({ turns }: { turns: TurnLatency[] }) {
  if (turns.length === 0) return <p class="empty">No turns seen since the console started.</p>;
  const max = Math.max(1, ...turns.map((t) => t.replyMs ?? (t.sttMs ?? 0) + (t.llmMs ?? 0)));
  return (
    <table class="turns" data-testid="turn-latency">
      <thead>
        <tr>
          <th scope="col">Turn</th>
          <th scope="col">STT</th>
          <th scope="col">LLM</th>
          <th scope="col">Reply done</th>
          <th scope="col">Outcome</th>
        </tr>
      </thead>
      <tbody>
        {[...turns].reverse().map((t) => (
          <tr key={`${t.sessionId}-${t.utterance}`}>
            <th scope="row" data-label="Turn">
              <span>
                #{t.utterance} <span class="hint">{clock(t.at)}</span>
                {t.thumbnailBlobId && <Thumbnail blobId={t.thumbnailBlobId} />}
              </span>
            </th>
            <td data-label="STT">{ms(t.sttMs)}</td>
            <td data-label="LLM">{ms(t.llmMs)}</td>
            <td data-label="Reply done">
              <span>
                {ms(t.replyMs)}
                {t.replyMs !== undefined && (
                  <span class="minibar" aria-hidden="true">
                    <span style={{ width: `${(100 * (t.sttMs ?? 0)) / max}%` }} class="m-stt" />
                    <span style={{ width: `${(100 * (t.llmMs ?? 0)) / max}%` }} class="m-llm" />
                    <span
                      style={{ width: `${(100 * Math.max(0, t.replyMs - (t.sttMs ?? 0) - (t.llmMs ?? 0))) / max}%` }}
                      class="m-rest"
                    />
                  </span>
                )}
              </span>
            </td>
            <td data-label="Outcome">{t.outcome}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Thumbnail({ blobId }: { blobId: string }) {
  const [failed, setFailed] = useState(false);
  if (failed) return <span class="hint">(image expired)</span>;
  return (
    <img
      class="thumb"
      src={`/api/blobs/${encodeURIComponent(blobId)}`}
      alt="Sent by the device with this turn"
      loading="lazy"
      onError={() => setFailed(true)}
    />
  );
}
