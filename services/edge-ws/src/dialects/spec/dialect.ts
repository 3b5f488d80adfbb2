import { toWav, WAV_HEADER_BYTES } from "@hotpin/audio";
import { DEVICE_ID_RULE, isValidDeviceId } from "@hotpin/runtime";
import { frames, sendPaced } from "../../pacer";
import type { Output, RerecordReason } from "../../session/model";
import { explicitStop } from "../../session/turn-detectors";
import type { Transport } from "../../transport";
import {
  type Capabilities,
  type Dialect,
  jsonObject,
  none,
  one,
  type Parsed,
  type PlaybackControl,
  type PlaybackResult,
  type Reply,
  refuse,
} from "../dialect";

/** Size of the WAV pieces behind each tts_chunk_meta (0.5 s, the seed's chunk size). */
export const SPEC_TTS_CHUNK_BYTES = 16_000;

const REASONS: Record<RerecordReason, string> = {
  empty_transcript: "Empty transcript",
  low_confidence: "Low confidence",
  too_short: "Recording too short",
  silence: "Only silence was heard",
  too_loud: "Too loud or clipped",
  disconnected: "Disconnected during recording",
  stalled: "Audio stopped arriving",
  chunks_lost: "Audio chunks were lost",
  operator: "Please say that again",
};

export const SPEC_CAPABILITIES: Capabilities = {
  turn: explicitStop,
  inputRate: 16_000,
  outputRate: 16_000,
  bargeIn: false,
  announcesState: true,
  partials: true,
  lateAudio: "refuse",
};

export interface SpecOptions {
  maxChunkBytes: number;
}

/**
 * HotPin spec dialect (docs/protocols/hotpin-spec.md): typed JSON messages, audio as audio_chunk_meta + one binary
 * frame, pull playback (tts_ready → ready_for_playback → chunks → tts_done) with a download
 * fallback. Hello may ask for `capabilities.tts_segments`: the reply then comes as one WAV
 * per sentence, each announced by its own tts_ready, so the first sentence plays while the
 * rest is still being written.
 */
export class SpecDialect implements Dialect {
  readonly name = "spec";
  readonly capabilities = SPEC_CAPABILITIES;
  private pending: { seq: number; len: number } | undefined;
  private chunkLimit: number;
  private segmented = false;

  constructor(
    private readonly transport: Transport,
    private readonly opts: SpecOptions,
  ) {
    this.chunkLimit = opts.maxChunkBytes;
  }

  text(raw: string): Parsed {
    const json = jsonObject(raw);
    if ("refusal" in json) return json.refusal;
    const m = json.message;
    if (typeof m.type !== "string") return refuse("bad_message", "missing type");
    if (this.pending && m.type !== "audio_chunk_meta") {
      // The binary frame never came; the chunk is lost, the message itself is still handled.
      this.pending = undefined;
      this.send({ type: "error", code: "meta_without_binary", message: "audio_chunk_meta not followed by binary" });
    }
    switch (m.type) {
      case "hello":
        return this.hello(m);
      case "client_on":
        return one({ type: "client_on" });
      case "recording_started":
        return one({ type: "start_recording" });
      case "audio_chunk_meta":
        return this.meta(m);
      case "recording_stopped":
        return one({ type: "stop_recording" });
      case "image_captured":
        return one({ type: "image_captured" });
      case "ready_for_playback":
        return one({ type: "ready_for_playback" });
      case "playback_complete":
        return one({ type: "playback_complete" });
      case "reset":
        return one({ type: "reset" });
      case "reset_conversation":
        return one({ type: "reset_conversation" });
      case "ping":
        return one({ type: "ping" });
      default:
        return refuse("unknown_type", "unknown message type");
    }
  }

  private hello(m: Record<string, unknown>): Parsed {
    const caps = (typeof m.capabilities === "object" && m.capabilities) || {};
    const { max_chunk_bytes: max, tts_segments: segments } = caps as Record<string, unknown>;
    if (max !== undefined && (!Number.isInteger(max) || (max as number) < 2)) {
      return refuse("bad_message", "capabilities.max_chunk_bytes must be a whole number of at least 2");
    }
    if (typeof max === "number") this.chunkLimit = Math.min(this.opts.maxChunkBytes, max);
    this.segmented = segments === true;
    if (m.session !== undefined && !isValidDeviceId(m.session)) {
      return refuse("bad_device_id", `session must be ${DEVICE_ID_RULE}`);
    }
    const deviceId = m.session;
    return one({ type: "hello", ...(deviceId ? { deviceId } : {}), ttsSegments: this.segmented });
  }

  private meta(m: Record<string, unknown>): Parsed {
    if (this.pending) {
      this.pending = undefined;
      return refuse("meta_without_binary", "audio_chunk_meta not followed by binary");
    }
    const len = m.len_bytes ?? m.len; // a known device build sends "len"
    const seq = m.seq;
    if (!Number.isInteger(seq) || (seq as number) < 0) return refuse("bad_chunk", "seq must be a whole number ≥ 0");
    if (!Number.isInteger(len) || (len as number) <= 0) return refuse("bad_chunk", "len_bytes must be positive");
    if ((len as number) % 2 !== 0) return refuse("bad_chunk", "len_bytes must be even (PCM16)");
    if ((len as number) > this.chunkLimit) return refuse("bad_chunk", `len_bytes above ${this.chunkLimit}`);
    this.pending = { seq: seq as number, len: len as number };
    return none;
  }

  binary(data: Buffer): Parsed {
    const meta = this.pending;
    this.pending = undefined;
    if (!meta) return refuse("binary_without_meta", "binary frame without audio_chunk_meta");
    if (data.length !== meta.len) return refuse("bad_chunk", `binary length ${data.length} != declared ${meta.len}`);
    return one({ type: "audio", pcm: data, seq: meta.seq });
  }

  send(out: Output): void {
    const msg = this.wire(out);
    if (msg) this.transport.sendText(JSON.stringify(msg));
  }

  private wire(out: Output): Record<string, unknown> | undefined {
    switch (out.type) {
      case "connected":
        return { type: "ready", session: out.deviceId, session_id: out.sessionId };
      case "ack":
        return { type: "ack", ref: "chunk", seq: out.seq ?? out.chunks, chunks: out.chunks };
      case "partial":
        return { type: "partial", text: out.text, stable: false };
      case "transcript":
        return { type: "transcript", text: out.text, final: true };
      case "answer":
        return { type: "llm", text: out.text };
      case "rerecord":
        return { type: "request_rerecord", reason: REASONS[out.reason], code: out.reason, attempt: out.attempt };
      case "intervention":
        return { type: "request_user_intervention", message: out.message };
      case "error":
        return { type: "error", code: out.code, message: out.message };
      case "state":
        return { type: "state_sync", server_state: out.state, message: out.message };
      case "pong":
        return { type: "pong" };
      case "reset_complete":
        return { type: "state_sync", server_state: "idle", message: "Reset" };
      case "image_received":
        return { type: "image_received", filename: "image.jpg" };
      case "conversation_reset":
        return { type: "conversation_reset" };
      // The state_sync that follows covers these.
      case "processing":
      case "complete":
      case "interrupted": // push-to-talk: never interrupted
        return undefined;
    }
  }

  async play(reply: Reply, ctl: PlaybackControl): Promise<PlaybackResult> {
    if (this.segmented) return this.playSegments(reply, ctl);
    const parts: Buffer[] = [];
    for await (const { pcm } of reply.segments) parts.push(pcm);
    return this.playWav(toWav(Buffer.concat(parts)), ctl, reply.apology, true);
  }

  private async playSegments(reply: Reply, ctl: PlaybackControl): Promise<PlaybackResult> {
    let bytes = 0;
    let index = 0;
    for await (const { pcm } of reply.segments) {
      const r = await this.playWav(toWav(pcm), ctl, reply.apology, false, index++);
      bytes += r.bytes;
      if (r.outcome !== "played") return { outcome: r.outcome, bytes };
    }
    await ctl.beforeDone(bytes);
    this.transport.sendText(JSON.stringify({ type: "tts_done" }));
    return { outcome: "played", bytes };
  }

  private seq = 0;

  private async playWav(
    wav: Buffer,
    ctl: PlaybackControl,
    apology: boolean,
    done: boolean,
    segment?: number,
  ): Promise<PlaybackResult> {
    const durationMs = Math.round(((wav.length - WAV_HEADER_BYTES) / ctl.pace.bytesPerSecond) * 1000);
    this.transport.sendText(
      JSON.stringify({
        type: "tts_ready",
        duration_ms: durationMs,
        sampleRate: SPEC_CAPABILITIES.outputRate,
        format: "wav",
        bytes: wav.length,
        ...(segment !== undefined ? { segment } : {}),
      }),
    );
    // Only the first segment waits: the device already said it is ready to play.
    if (!segment && !(await ctl.waitReady(ctl.playbackReadyTimeoutMs))) {
      if (apology) return { outcome: "aborted", bytes: 0 };
      const offer = await ctl.offerDownload(wav);
      this.transport.sendText(
        JSON.stringify({ type: "offer_download", url: offer.url, expires_in: offer.expiresInSec }),
      );
      return { outcome: "offered", bytes: 0 };
    }
    const sent = await sendPaced(this.transport, frames(wav, SPEC_TTS_CHUNK_BYTES), {
      ...ctl.pace,
      onFirstFrame: () => ctl.firstAudio(),
      send: (frame) => {
        this.transport.sendText(JSON.stringify({ type: "tts_chunk_meta", seq: ++this.seq, len_bytes: frame.length }));
        this.transport.sendBinary(frame);
      },
    });
    if (sent < wav.length) return { outcome: "aborted", bytes: sent };
    if (done) {
      await ctl.beforeDone(sent);
      this.transport.sendText(JSON.stringify({ type: "tts_done" }));
    }
    return { outcome: "played", bytes: sent };
  }
}
