import { setTimeout as sleep } from "node:timers/promises";
import { OpusDecoder, OpusEncoder, OpusError, pcmSamples } from "@hotpin/audio";
import {
  alertMessage,
  type ConnectRequest,
  decodeAudioFrame,
  encodeAudioFrame,
  type ListenMode,
  llmEmotion,
  parseDeviceMessage,
  serverHello,
  sttMessage,
  ttsSentenceStart,
  ttsStart,
  ttsStop,
  XiaozhiProtocolError,
} from "@hotpin/xiaozhi";
import type { EdgeConfig } from "../../config";
import { PlayClock } from "../../pacer";
import type { ErrorCode, Output, RerecordReason } from "../../session/model";
import { vad } from "../../session/turn-detectors";
import type { Transport } from "../../transport";
import {
  type Capabilities,
  type Dialect,
  none,
  one,
  type Parsed,
  type PlaybackControl,
  type PlaybackResult,
  type Reply,
  refuse,
} from "../dialect";
import { FrameCutter } from "./frame-cutter";

/** The microphone stream every firmware sends (docs/protocols/xiaozhi.md §3.1, §4). */
export const XIAOZHI_UP_RATE = 16_000;
/** What replies are encoded at and the hello announces: 24 kHz avoids resampling on most boards (§3.2). */
export const XIAOZHI_DOWN_RATE = 24_000;
export const XIAOZHI_FRAME_MS = 60;
const FRAME_SAMPLES = (XIAOZHI_DOWN_RATE / 1000) * XIAOZHI_FRAME_MS;
/** Audio sent right after `tts start` may arrive before the device switched to Speaking (§7.1). */
const START_GAP_MS = 50;
/** After the device has played what was sent: two frames more before `tts stop` (§7.3). */
const TAIL_FRAMES = 2;

export const XIAOZHI_CAPABILITIES: Capabilities = {
  // auto/realtime: the server's VAD ends the turn; manual: listen start/stop (start_recording makes a manual turn).
  turn: vad,
  inputRate: XIAOZHI_UP_RATE,
  outputRate: XIAOZHI_DOWN_RATE,
  // Only a device with echo cancellation streams while it speaks (realtime mode); auto turns its microphone off.
  bargeIn: true,
  announcesState: false,
  partials: false,
  lateAudio: "drop",
};

/** What the device shows for a re-record (`alert` needs all three fields, §7). */
const RERECORD: Record<RerecordReason, string> = {
  empty_transcript: "I did not catch that. Please say it again.",
  low_confidence: "I did not catch that. Please say it again.",
  too_short: "That was too short. Please say it again.",
  silence: "I heard only silence. Please say it again.",
  too_loud: "That was too loud. Please say it again.",
  disconnected: "The connection dropped. Please say it again.",
  stalled: "The audio stopped. Please say it again.",
  chunks_lost: "Audio was lost. Please say it again.",
  operator: "Please say that again.",
};

/** Failures the user should see; protocol errors only go to the device's log. */
const SHOWN: ReadonlySet<ErrorCode> = new Set([
  "stt_failed",
  "llm_failed",
  "llm_unconfigured",
  "tts_failed",
  "storage_failed",
  "shutting_down",
  "replaced",
]);

export interface XiaozhiOptions {
  connect: ConnectRequest;
  cfg: Pick<EdgeConfig, "xiaozhiIdleMs" | "xiaozhiOpusComplexity" | "xiaozhiOpusBitrate" | "xiaozhiBurstFrames">;
}

/**
 * xiaozhi-esp32 over WebSocket (docs/protocols/xiaozhi.md): the device's hello identifies it by
 * its Device-Id header (checked before the upgrade), `listen` start/stop frame a turn, Opus
 * 16 kHz 60 ms comes up and is decoded here, replies go down as paced 24 kHz 60 ms Opus between
 * `tts start` and `tts stop`. One decoder and (from the first reply) one encoder per
 * connection, freed in `dispose`.
 */
export class XiaozhiDialect implements Dialect {
  readonly name = "xiaozhi";
  readonly capabilities = XIAOZHI_CAPABILITIES;
  private readonly decoder = new OpusDecoder(XIAOZHI_UP_RATE);
  private encoder: OpusEncoder | undefined;
  private sessionId = "";
  private mode: ListenMode = "auto";
  /** Between `listen start` and `listen stop` or the reply: audio outside is not a turn's. */
  private listening = false;
  /** A reply played: its `tts stop` goes with the core's next output (complete, error or interrupted). */
  private stopPending = false;
  private playing = false;
  private idleTimer: NodeJS.Timeout | undefined;
  private disposed = false;

  constructor(
    private readonly transport: Transport,
    private readonly opts: XiaozhiOptions,
  ) {
    this.touch();
  }

  get listenMode(): ListenMode {
    return this.mode;
  }

  /**
   * The firmware counts the channel dead after 120 s without a message from us, and a listening
   * device streams (DTX) silence without end: 120 s without a text message either way (no turn,
   * no reply) closes the socket, and the device opens a new one when it next needs it (§8).
   */
  private touch(): void {
    if (this.disposed) return;
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      if (this.playing) return this.touch();
      this.transport.close("normal", "idle");
    }, this.opts.cfg.xiaozhiIdleMs);
    this.idleTimer.unref?.();
  }

  text(raw: string): Parsed {
    this.touch();
    let m: ReturnType<typeof parseDeviceMessage>;
    try {
      m = parseDeviceMessage(raw);
    } catch (err) {
      if (!(err instanceof XiaozhiProtocolError)) throw err;
      return refuse(err.message.startsWith("unknown message type") ? "unknown_type" : "bad_message", err.message);
    }
    switch (m.type) {
      case "hello":
        // The device is the one its headers named; the hello only opens the channel.
        return one({ type: "hello", deviceId: this.opts.connect.deviceId });
      case "listen":
        if (m.state === "start") {
          this.mode = m.mode;
          this.listening = true;
          // auto/realtime: the audio alone makes the turns (the VAD); manual: the device's own turn.
          return m.mode === "manual" ? one({ type: "start_recording" }) : none;
        }
        if (m.state === "stop") {
          if (!this.listening) return none;
          this.listening = false;
          return one({ type: "stop_recording" });
        }
        // A wake word the device spotted (a `wake_word` event); its `listen start` follows.
        return one({ type: "wake_word", word: m.text });
      case "abort":
        // The user pressed the button or said the wake word while the device speaks (§6).
        return one({ type: "abort" });
      case "mcp":
      case "iot":
        return none;
    }
  }

  binary(data: Buffer): Parsed {
    let pcm: Buffer;
    try {
      pcm = this.decoder.decode(decodeAudioFrame(this.opts.connect.protocolVersion, data).opus);
    } catch (err) {
      if (err instanceof XiaozhiProtocolError || err instanceof OpusError) return refuse("bad_audio", err.message);
      throw err;
    }
    // Manual mode: frames still in flight after `listen stop` are not a turn's. auto/realtime:
    // everything goes to the VAD (a realtime device streams while it speaks: barge-in).
    if (this.mode === "manual" && !this.listening) return none;
    return one({ type: "audio", pcm });
  }

  send(out: Output): void {
    const msg = this.wire(out);
    if (this.stopPending && (out.type === "complete" || out.type === "error" || out.type === "interrupted")) {
      // Sent with the core's end of the reply, so the device's next `listen start` finds it idle.
      this.stopPending = false;
      this.sendJson(ttsStop(this.sessionId));
    }
    if (msg) this.sendJson(msg);
  }

  private sendJson(msg: Record<string, unknown>): void {
    this.touch();
    this.transport.sendText(JSON.stringify(msg));
  }

  private wire(out: Output): Record<string, unknown> | undefined {
    const sid = this.sessionId;
    switch (out.type) {
      case "connected":
        this.sessionId = out.sessionId;
        return serverHello({
          sessionId: out.sessionId,
          sampleRate: XIAOZHI_DOWN_RATE,
          frameDurationMs: XIAOZHI_FRAME_MS,
        });
      case "interrupted":
        // The reply stopped (the device's abort, or the user talking over it): `tts stop` at once.
        this.stopPending = true;
        return undefined;
      case "processing":
        if (this.mode === "manual") this.listening = false;
        return undefined;
      case "transcript":
        return sttMessage(sid, out.text);
      case "answer":
        return llmEmotion(sid, "neutral");
      case "rerecord":
        return alertMessage(sid, "Listening", RERECORD[out.reason], "confused");
      case "intervention":
        return alertMessage(sid, "Error", out.message, "sad");
      case "error":
        if (SHOWN.has(out.code)) return alertMessage(sid, "Error", out.message, "sad");
        // The firmware logs and ignores unknown types: a clear protocol error, harmless to it.
        return { type: "error", code: out.code, message: out.message, session_id: sid };
      case "ack":
      case "partial":
      case "state":
      case "pong":
      case "reset_complete":
      case "image_received":
      case "conversation_reset":
      case "complete":
        return undefined;
    }
  }

  /**
   * `tts start`, then per sentence `sentence_start` and its audio in packets of exactly one
   * announced frame, encoded on libuv's thread pool and paced like the reference server: a burst
   * of `HOTPIN_EDGE_XIAOZHI_BURST_FRAMES`, then one per frame time on one clock for the reply
   * (a burst again after the device's queue ran dry). `tts stop` follows with the core's next
   * output, after the device has played the tail.
   */
  async play(reply: Reply, ctl: PlaybackControl): Promise<PlaybackResult> {
    const { cfg } = this.opts;
    const { signal, highWaterBytes } = ctl.pace;
    if (this.mode === "manual") this.listening = false;
    this.stopPending = false;
    this.playing = true;
    this.encoder ??= new OpusEncoder({
      sampleRate: XIAOZHI_DOWN_RATE,
      frameMs: XIAOZHI_FRAME_MS,
      application: "audio",
      bitrate: cfg.xiaozhiOpusBitrate,
      complexity: cfg.xiaozhiOpusComplexity,
    });
    const encoder = this.encoder;
    // At most `burst` frames queued at the device beyond the one it plays.
    const clock = new PlayClock(Math.max(0, cfg.xiaozhiBurstFrames - 1) * XIAOZHI_FRAME_MS);
    const cutter = new FrameCutter(FRAME_SAMPLES);
    const version = this.opts.connect.protocolVersion;
    const startedAt = Date.now();
    let bytes = 0;
    let packets = 0;
    const stopped = () => signal?.aborted === true || !this.transport.open;
    const sendFrames = async (frames: Int16Array[]): Promise<boolean> => {
      for (const pcm of frames) {
        if (stopped()) return false;
        const packet = await encoder.encodeAsync(pcm);
        if (packets === 0) {
          const gap = START_GAP_MS - (Date.now() - startedAt);
          if (gap > 0) await delay(gap, signal);
        }
        if (!(await clock.book(XIAOZHI_FRAME_MS, signal))) return false;
        if (this.transport.bufferedAmount > highWaterBytes) await this.transport.flushed();
        if (stopped()) return false;
        if (packets === 0) ctl.firstAudio();
        this.transport.sendBinary(encodeAudioFrame(version, packet));
        packets++;
      }
      return true;
    };
    this.sendJson(ttsStart(this.sessionId));
    try {
      for await (const { pcm, text } of reply.segments) {
        if (stopped()) break;
        if (text) this.sendJson(ttsSentenceStart(this.sessionId, text));
        if (!(await sendFrames(cutter.push(pcmSamples(pcm))))) break;
        bytes += pcm.length;
      }
      if (!stopped()) await sendFrames(cutter.flush());
      await clock.drained(signal);
      if (!stopped()) await delay(TAIL_FRAMES * XIAOZHI_FRAME_MS, signal);
    } catch (err) {
      if (!stopped()) throw err; // an interruption cancels the LLM or TTS stream: not a failure
    } finally {
      this.playing = false;
      this.stopPending = true;
    }
    if (stopped()) return { outcome: "aborted", bytes };
    await ctl.beforeDone(bytes);
    return { outcome: "played", bytes };
  }

  dispose(): void {
    this.disposed = true;
    clearTimeout(this.idleTimer);
    this.decoder.free();
    this.encoder?.free();
  }
}

/** Waits, or less when `signal` aborts (never rejects). */
function delay(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return sleep(ms, undefined, signal ? { signal } : {}).catch(() => undefined);
}
