import { OpusDecoder, OpusEncoder, OpusError } from "@hotpin/audio";
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
import type { ErrorCode, Output, RerecordReason } from "../../session/model";
import { explicitStop } from "../../session/turn-detectors";
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
import { FrameCutter, FramePacer, type PaceClock, realClock, sendFrames } from "./playback";

/** The microphone stream every firmware sends (docs/protocols/xiaozhi.md §3.1, §4). */
export const XIAOZHI_UP_RATE = 16_000;
/** What replies are encoded at and the hello announces: 24 kHz avoids resampling on most boards (§3.2). */
export const XIAOZHI_DOWN_RATE = 24_000;
export const XIAOZHI_FRAME_MS = 60;
/** The pipeline's reply PCM rate, resampled once here to the downlink rate. */
const REPLY_PCM_RATE = 16_000;
/** Audio sent right after `tts start` may arrive before the device switched to Speaking (§7.1). */
const START_GAP_MS = 50;

export const XIAOZHI_CAPABILITIES: Capabilities = {
  turn: explicitStop,
  outputRate: REPLY_PCM_RATE,
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
  cfg: Pick<
    EdgeConfig,
    "xiaozhiIdleMs" | "xiaozhiOpusComplexity" | "xiaozhiOpusBitrate" | "xiaozhiBurstFrames" | "sendHighWaterBytes"
  >;
  clock?: PaceClock;
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
  /** A reply played and its `tts stop` waits for the core's next output (complete or error). */
  private stopPending = false;
  private playback: AbortController | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private disposed = false;
  private readonly clock: PaceClock;

  constructor(
    private readonly transport: Transport,
    private readonly opts: XiaozhiOptions,
  ) {
    this.clock = opts.clock ?? realClock;
    this.touch();
  }

  get listenMode(): ListenMode {
    return this.mode;
  }

  /** The firmware counts the channel dead after 120 s without a message; we close first. */
  private touch(): void {
    if (this.disposed) return;
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      if (this.playback) return this.touch();
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
          return one({ type: "start_recording" });
        }
        if (m.state === "stop") {
          if (!this.listening) return none;
          this.listening = false;
          return one({ type: "stop_recording" });
        }
        // A wake word the device spotted; its `listen start` follows.
        return none;
      case "abort":
        // The user pressed the button or said the wake word while the device speaks (§6).
        this.playback?.abort();
        return none;
      case "mcp":
      case "iot":
        return none;
    }
  }

  binary(data: Buffer): Parsed {
    this.touch();
    let pcm: Buffer;
    try {
      pcm = this.decoder.decode(decodeAudioFrame(this.opts.connect.protocolVersion, data).opus);
    } catch (err) {
      if (err instanceof XiaozhiProtocolError || err instanceof OpusError) return refuse("bad_audio", err.message);
      throw err;
    }
    // Frames still in flight after `listen stop` or while the reply plays are not a turn's.
    if (!this.listening) return none;
    return one({ type: "audio", pcm });
  }

  send(out: Output): void {
    const msg = this.wire(out);
    if (this.stopPending && (out.type === "complete" || out.type === "error")) {
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
      case "processing":
        this.listening = false;
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

  async play(reply: Reply, ctl: PlaybackControl): Promise<PlaybackResult> {
    const { cfg } = this.opts;
    this.listening = false;
    this.stopPending = false;
    const playback = new AbortController();
    this.playback = playback;
    const signal = ctl.pace.signal ? AbortSignal.any([ctl.pace.signal, playback.signal]) : playback.signal;
    this.encoder ??= new OpusEncoder({
      sampleRate: XIAOZHI_DOWN_RATE,
      frameMs: XIAOZHI_FRAME_MS,
      application: "audio",
      bitrate: cfg.xiaozhiOpusBitrate,
      complexity: cfg.xiaozhiOpusComplexity,
    });
    const cutter = new FrameCutter(REPLY_PCM_RATE, XIAOZHI_DOWN_RATE, (XIAOZHI_DOWN_RATE / 1000) * XIAOZHI_FRAME_MS);
    const sender = {
      transport: this.transport,
      encoder: this.encoder,
      pacer: new FramePacer(XIAOZHI_FRAME_MS, cfg.xiaozhiBurstFrames, this.clock),
      clock: this.clock,
      signal,
      highWaterBytes: cfg.sendHighWaterBytes,
      frame: (opus: Buffer) => encodeAudioFrame(this.opts.connect.protocolVersion, opus),
      onFirstPacket: () => ctl.firstAudio(),
    };
    const first = { sent: false };
    let bytes = 0;
    let playing = true;
    this.sendJson(ttsStart(this.sessionId));
    const startedAt = this.clock.now();
    try {
      for await (const segment of reply.segments) {
        const { pcm, text } = segmentParts(segment);
        if (text) this.sendJson(ttsSentenceStart(this.sessionId, text));
        if (!first.sent) {
          const gap = START_GAP_MS - (this.clock.now() - startedAt);
          if (gap > 0) await this.clock.sleep(gap, signal);
        }
        playing = await sendFrames(sender, cutter.push(pcm), first);
        bytes += pcm.length;
        if (!playing) break;
      }
      if (playing) playing = await sendFrames(sender, cutter.flush(), first);
      // The device plays about `burst` frames behind: let it finish before `tts stop` (§7.3).
      if (playing) await this.clock.sleep((cfg.xiaozhiBurstFrames + 2) * XIAOZHI_FRAME_MS, signal);
      if (signal.aborted) playing = false;
    } finally {
      if (this.playback === playback) this.playback = undefined;
      this.stopPending = true;
    }
    if (!playing) return { outcome: "aborted", bytes };
    await ctl.beforeDone(bytes);
    return { outcome: "played", bytes };
  }

  dispose(): void {
    this.disposed = true;
    clearTimeout(this.idleTimer);
    this.playback?.abort();
    this.decoder.free();
    this.encoder?.free();
  }
}

/** A reply segment: PCM alone, or PCM with the sentence it speaks. */
function segmentParts(segment: unknown): { pcm: Buffer; text?: string } {
  if (Buffer.isBuffer(segment)) return { pcm: segment };
  const s = segment as { pcm: Buffer; text?: unknown };
  return typeof s.text === "string" ? { pcm: s.pcm, text: s.text } : { pcm: s.pcm };
}
