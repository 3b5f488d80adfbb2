import { useEffect, useRef, useState } from "preact/hooks";
import type { IssuedToken } from "../../../src/api-types";
import { ApiError, api, clock } from "../api";
import { onLinkClick } from "../router";
import { Microphone } from "../virtual/microphone";
import { type DeviceEvent, SpecDevice } from "../virtual/spec-device";

/** 200 ms of 16 kHz PCM16 per chunk: partials come quickly, and well under the edge's chunk limit. */
const CHUNK_BYTES = 6400;

type Phase = "off" | "connecting" | "ready" | "recording" | "waiting" | "playing" | "closed";

interface LogLine {
  at: number;
  text: string;
}

export function VirtualDevicePage() {
  const [deviceId, setDeviceId] = useState(() => sessionStorage.getItem("hotpin-virtual-device") ?? "");
  const [phase, setPhase] = useState<Phase>("off");
  const [partial, setPartial] = useState("");
  const [transcript, setTranscript] = useState("");
  const [answer, setAnswer] = useState("");
  const [played, setPlayed] = useState("");
  const [problem, setProblem] = useState("");
  const [micProblem, setMicProblem] = useState("");
  const [toggleMode, setToggleMode] = useState(false);
  const [log, setLog] = useState<LogLine[]>([]);
  const [connectedAs, setConnectedAs] = useState("");
  const device = useRef<SpecDevice | null>(null);
  const mic = useRef<Microphone | null>(null);
  const ctx = useRef<AudioContext | null>(null);
  const downloadAudio = useRef<HTMLAudioElement>(null);
  const phaseRef = useRef<Phase>("off");
  phaseRef.current = phase;

  const note = (text: string) => setLog((prev) => [...prev.slice(-49), { at: Date.now(), text }]);

  useEffect(
    () => () => {
      device.current?.close();
      mic.current?.close();
      void ctx.current?.close();
    },
    [],
  );

  const play = async (wav: Uint8Array) => {
    const audio = ctx.current;
    if (!audio || wav.length <= 44) {
      device.current?.playbackComplete();
      setPhase("ready");
      return;
    }
    setPhase("playing");
    try {
      const buffer = await audio.decodeAudioData(wav.slice().buffer);
      const src = audio.createBufferSource();
      src.buffer = buffer;
      src.connect(audio.destination);
      src.onended = () => {
        device.current?.playbackComplete();
        setPlayed(`Reply played (${buffer.duration.toFixed(1)} s)`);
        note(`reply played, ${buffer.duration.toFixed(1)} s`);
        setPhase("ready");
      };
      src.start();
    } catch {
      setProblem("The reply audio could not be decoded.");
      device.current?.playbackComplete();
      setPhase("ready");
    }
  };

  const onEvent = (e: DeviceEvent) => {
    switch (e.kind) {
      case "status":
        note(e.text);
        break;
      case "ready":
        note("ready");
        if (phaseRef.current === "connecting") setPhase("ready");
        break;
      case "partial":
        setPartial(e.text);
        break;
      case "transcript":
        setPartial("");
        setTranscript(e.text);
        note("transcript");
        break;
      case "answer":
        setAnswer(e.text);
        setPlayed("");
        note("answer");
        break;
      case "reply":
        note(`reply audio, ${e.wav.length} bytes`);
        void play(e.wav);
        break;
      case "rerecord":
        setProblem(`The edge asks to record again: ${e.reason}`);
        note("re-record asked");
        setPhase("ready");
        break;
      case "intervention":
        setProblem(e.message);
        setPhase("ready");
        break;
      case "state":
        note(`state ${e.state}`);
        break;
      case "error":
        setProblem(`${e.code}: ${e.message}`);
        note(`error ${e.code}`);
        if (phaseRef.current === "waiting") setPhase("ready");
        break;
      case "download":
        note("reply offered as a download");
        if (downloadAudio.current) {
          downloadAudio.current.src = new URL(e.url, httpBase() || location.href).href;
          void downloadAudio.current.play();
        }
        break;
      case "closed":
        note(`closed (${e.code}${e.reason ? ` ${e.reason}` : ""})`);
        setPhase("closed");
        break;
    }
  };

  // The edge's HTTP origin, for relative download links.
  const edgeUrl = useRef("");
  const httpBase = () => edgeUrl.current.replace(/^ws/, "http");

  const connect = async () => {
    setProblem("");
    setMicProblem("");
    setPhase("connecting");
    let issued: IssuedToken;
    try {
      issued = await api<IssuedToken>(
        "POST",
        "/api/virtual-device",
        deviceId.trim() ? { deviceId: deviceId.trim() } : {},
      );
    } catch (err) {
      setProblem(err instanceof ApiError ? err.message : "The console could not be reached.");
      setPhase("off");
      return;
    }
    sessionStorage.setItem("hotpin-virtual-device", issued.deviceId);
    setDeviceId(issued.deviceId);
    setConnectedAs(issued.deviceId);
    edgeUrl.current = issued.wsUrl;
    // Created on this click, so the browser lets it play the replies.
    const audio = ctx.current ?? new AudioContext();
    ctx.current = audio;
    await audio.resume();
    const m = new Microphone(audio, CHUNK_BYTES, (chunk) => device.current?.sendChunk(chunk));
    try {
      await m.open();
      mic.current = m;
    } catch (err) {
      setMicProblem(`No microphone: ${(err as Error).message}. Replies to "say" still play.`);
    }
    const d = new SpecDevice(issued.wsUrl, issued.deviceId, onEvent);
    device.current = d;
    d.connect();
  };

  const disconnect = () => {
    device.current?.close();
    mic.current?.close();
    mic.current = null;
    setPhase("closed");
  };

  const startTalking = () => {
    if (phaseRef.current !== "ready" || !mic.current || !device.current?.open) return;
    setProblem("");
    setPartial("");
    setTranscript("");
    setAnswer("");
    setPlayed("");
    device.current.startRecording();
    mic.current.start();
    setPhase("recording");
    note("recording");
  };

  const stopTalking = () => {
    if (phaseRef.current !== "recording") return;
    mic.current?.stop();
    device.current?.stopRecording();
    setPhase("waiting");
    note("recording stopped");
  };

  const pttKeyDown = (e: KeyboardEvent) => {
    if ((e.key === " " || e.key === "Enter") && !e.repeat) {
      e.preventDefault();
      if (toggleMode && phaseRef.current === "recording") stopTalking();
      else startTalking();
    }
  };
  const pttKeyUp = (e: KeyboardEvent) => {
    if ((e.key === " " || e.key === "Enter") && !toggleMode) {
      e.preventDefault();
      stopTalking();
    }
  };

  const live = phase !== "off" && phase !== "closed" && phase !== "connecting";
  const statusText: Record<Phase, string> = {
    off: "Not connected",
    connecting: "Connecting…",
    ready: "Ready: hold the button and speak",
    recording: "Listening…",
    waiting: "Thinking…",
    playing: "Speaking the reply…",
    closed: "Disconnected",
  };
  return (
    <>
      <h1>Virtual device</h1>
      <p class="hint">
        This page is a HotPin device: your microphone, resampled to 16 kHz, speaks the spec dialect to the edge with a
        device token the console issues. It shows up in the fleet like any other device.
      </p>
      <section class="card" aria-labelledby="vd-connect">
        <h2 id="vd-connect">Connection</h2>
        <div class="row wrap">
          <div class="field">
            <label for="vd-id">Device id</label>
            <input
              id="vd-id"
              type="text"
              placeholder="console-… (new id)"
              pattern="[A-Za-z0-9._\-]{1,64}"
              value={deviceId}
              disabled={live || phase === "connecting"}
              onInput={(e) => setDeviceId((e.target as HTMLInputElement).value)}
            />
          </div>
          {live ? (
            <button type="button" class="secondary" onClick={disconnect}>
              Disconnect
            </button>
          ) : (
            <button type="button" onClick={connect} disabled={phase === "connecting"}>
              Connect
            </button>
          )}
        </div>
        <p role="status" data-testid="vd-status" class="vd-status">
          {statusText[phase]}
          {connectedAs && live && (
            <>
              {" "}
              as{" "}
              <a href={`/devices/${encodeURIComponent(connectedAs)}`} onClick={onLinkClick} class="mono">
                {connectedAs}
              </a>
            </>
          )}
        </p>
        {micProblem && (
          <p class="warn" role="alert">
            {micProblem}
          </p>
        )}
      </section>

      <section class="card talk" aria-labelledby="vd-talk">
        <h2 id="vd-talk">Talk</h2>
        <button
          type="button"
          class={phase === "recording" ? "ptt on" : "ptt"}
          disabled={!live || !mic.current || (phase !== "ready" && phase !== "recording")}
          aria-pressed={phase === "recording"}
          onPointerDown={(e) => {
            (e.currentTarget as HTMLElement).setPointerCapture(e.pointerId);
            if (toggleMode && phaseRef.current === "recording") stopTalking();
            else startTalking();
          }}
          onPointerUp={() => !toggleMode && stopTalking()}
          onPointerCancel={() => !toggleMode && stopTalking()}
          onKeyDown={pttKeyDown}
          onKeyUp={pttKeyUp}
          data-testid="ptt"
        >
          {phase === "recording"
            ? toggleMode
              ? "Tap to stop"
              : "Release to send"
            : toggleMode
              ? "Tap to talk"
              : "Hold to talk"}
        </button>
        <label class="check">
          <input
            type="checkbox"
            checked={toggleMode}
            onChange={(e) => setToggleMode((e.target as HTMLInputElement).checked)}
          />
          tap to start and stop (instead of holding)
        </label>
        <p class="hint">Keyboard: focus the button and hold Space.</p>
        <dl class="exchange">
          <div>
            <dt>Hearing</dt>
            <dd aria-live="polite" data-testid="vd-partial" class="partial">
              {partial || "—"}
            </dd>
          </div>
          <div>
            <dt>Transcript</dt>
            <dd data-testid="vd-transcript">{transcript || "—"}</dd>
          </div>
          <div>
            <dt>Answer</dt>
            <dd data-testid="vd-answer" aria-live="polite">
              {answer || "—"}
            </dd>
          </div>
          <div>
            <dt>Reply</dt>
            <dd data-testid="vd-played">{played || (phase === "playing" ? "playing…" : "—")}</dd>
          </div>
        </dl>
        {problem && (
          <p class="error" role="alert">
            {problem}
          </p>
        )}
        {/* biome-ignore lint/a11y/useMediaCaption: the reply's words are shown above as the answer */}
        <audio ref={downloadAudio} hidden />
      </section>

      <section class="card" aria-labelledby="vd-log">
        <h2 id="vd-log">Protocol log</h2>
        {/* biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling region must take focus to scroll by keyboard (WCAG 2.1.1) */}
        <div class="scroll log" role="log" aria-labelledby="vd-log" tabIndex={0}>
          <ol class="plain">
            {log.map((l, i) => (
              <li key={i}>
                <time>{clock(l.at)}</time> {l.text}
              </li>
            ))}
          </ol>
        </div>
      </section>
    </>
  );
}
