import { pcmDurationMs, toWav, WAV_HEADER_BYTES } from "@hotpin/audio";
import { AckWindow } from "./ack-window";
import { DeviceSocket, type Incoming, type JsonMessage } from "./device-socket";
import { AuthRejectedError, ConnectionDroppedError, ProtocolError, SimError } from "./errors";
import { checkReplyWav } from "./reply-wav";
import { type Settings, serverUrl } from "./settings";
import { streamAudio } from "./stream-audio";
import type { Timeline } from "./timeline";
import type { UtteranceResult } from "./types";

/** A server that keeps asking for re-records past this is looping; the seed allows 2. */
const MAX_RERECORDS = 5;

/** Messages legal at any time once connected; they are logged and otherwise need nothing. */
const ANYTIME = new Set(["state_sync", "ready", "image_received"]);

function describe(m: Incoming): string {
  return m.kind === "binary" ? `binary frame of ${m.data.length} B` : m.raw;
}

function unexpected(m: Incoming, state: string): ProtocolError {
  return new ProtocolError(`unexpected ${describe(m)} while ${state}`);
}

function text(msg: JsonMessage, field: string): string | undefined {
  const v = msg[field];
  return typeof v === "string" ? v : undefined;
}

function typeOf(m: Incoming): string | undefined {
  if (m.kind !== "text") return undefined;
  const t = text(m.msg, "type");
  if (t === undefined) throw new ProtocolError(`server message without a type: ${m.raw}`);
  return t;
}

function errorOf(msg: JsonMessage): NonNullable<UtteranceResult["serverError"]> {
  const code = text(msg, "code") ?? text(msg, "error_type");
  return { message: text(msg, "message") ?? "", ...(code ? { code } : {}) };
}

/** One connection of a spec-dialect device (docs/protocols/hotpin-spec.md): `/ws?session=<id>&token=<token>`, hello, then utterances. */
export class SpecDevice {
  private ready = false;
  private pingsOut = 0;
  private pingTimer?: NodeJS.Timeout;

  private constructor(
    readonly sock: DeviceSocket,
    private readonly s: Settings,
    private readonly timeline: Timeline,
  ) {}

  static async connect(s: Settings, timeline: Timeline): Promise<SpecDevice> {
    const url = serverUrl(s.wsBase, "/ws");
    url.searchParams.set("session", s.deviceId);
    if (s.token !== undefined) url.searchParams.set("token", s.token);
    const sock = await DeviceSocket.open(url.href, { timeoutMs: s.connectTimeoutMs, timeline });
    const device = new SpecDevice(sock, s, timeline);
    try {
      await device.handshake();
    } catch (err) {
      await device.close();
      throw err;
    }
    return device;
  }

  private async handshake(): Promise<void> {
    if (this.s.waitForReady) await this.awaitReady();
    await this.sock.sendJson({
      type: "hello",
      session: this.s.deviceId,
      device: "hotpin-sim",
      capabilities: { psram: false, max_chunk_bytes: this.s.chunkBytes, ...this.s.capabilities },
    });
    await this.awaitReady();
    if (this.s.pingIntervalMs > 0) {
      // A failed ping send means the connection dropped; the exchange notices that itself.
      const ping = () => {
        this.pingsOut++;
        this.sock.sendJson({ type: "ping" }).catch(() => {});
      };
      ping();
      this.pingTimer = setInterval(ping, this.s.pingIntervalMs);
      this.pingTimer.unref();
    }
  }

  private async awaitReady(): Promise<void> {
    while (!this.ready) {
      const m = await this.sock.next(this.s.connectTimeoutMs, "ready");
      this.common(m, "waiting for ready");
    }
  }

  /** Handles what may arrive in any state; throws for what is illegal in every state. Returns false if not handled. */
  private common(m: Incoming, state: string): boolean {
    const type = typeOf(m);
    if (type === "ready") this.ready = true;
    if (type !== undefined && ANYTIME.has(type)) return true;
    if (type === "pong") {
      if (this.pingsOut === 0) throw new ProtocolError("pong without a ping");
      this.pingsOut--;
      return true;
    }
    if (type === "error") {
      const e = errorOf(m.kind === "text" ? m.msg : {});
      throw new SimError("protocol", `server error while ${state}: ${e.code ? `${e.code}: ` : ""}${e.message}`);
    }
    if (m.kind === "binary" || type === undefined) throw unexpected(m, state);
    return false;
  }

  async utterance(index: number, chunks: readonly Buffer[], image?: () => Promise<void>): Promise<UtteranceResult> {
    const result: UtteranceResult = {
      index,
      outcome: "server_error",
      chunksSent: 0,
      bytesSent: 0,
      streamAborted: false,
      ackLatenciesMs: [],
      partials: [],
      rerecords: [],
      warnings: [],
    };
    if (image) await image();
    for (;;) {
      const again = await this.speakOnce(result, chunks);
      if (!again) return result;
      if (result.rerecords.length > MAX_RERECORDS) {
        throw new ProtocolError(`server asked for ${result.rerecords.length} re-records in a row`);
      }
    }
  }

  /** Records and sends one take; returns true when the server asked to record again. */
  private async speakOnce(result: UtteranceResult, chunks: readonly Buffer[]): Promise<boolean> {
    const { sock, s, timeline } = this;
    const window = new AckWindow();
    let rerecord: string | undefined;
    let intervention: string | undefined;
    const onMessage = (m: Incoming): boolean => {
      if (m.kind === "text" && m.msg.type === "ack") {
        if (m.msg.ref !== undefined && m.msg.ref !== "chunk") throw unexpected(m, "recording");
        window.onAck(Number(m.msg.seq), m.at);
        return false;
      }
      if (m.kind === "text" && m.msg.type === "partial") {
        result.partials.push(String(m.msg.text ?? ""));
        return false;
      }
      if (m.kind === "text" && m.msg.type === "request_rerecord") {
        rerecord = String(m.msg.reason ?? "");
        return true;
      }
      if (m.kind === "text" && m.msg.type === "request_user_intervention") {
        intervention = String(m.msg.message ?? "");
        return true;
      }
      if (m.kind === "text" && m.msg.type === "error") {
        // The server refused the take (e.g. a chunk it found invalid): the utterance ends.
        result.serverError = errorOf(m.msg);
        return true;
      }
      if (this.common(m, "recording")) return false;
      throw unexpected(m, "recording");
    };
    await sock.sendJson({ type: "recording_started", ts: Date.now() });
    // Sequence numbers start at 1 per take, so an ACK's seq is also the count of chunks received.
    const streamed = await streamAudio(
      sock,
      chunks,
      window,
      s.stream,
      {
        sendChunk: async (chunk, i) => {
          await sock.sendJson({ type: "audio_chunk_meta", seq: i + 1, len_bytes: chunk.length });
          await sock.sendBinary(chunk);
        },
        onMessage,
      },
      timeline,
    );
    result.chunksSent += streamed.chunksSent;
    result.bytesSent += streamed.bytesSent;
    result.streamAborted ||= streamed.aborted;
    await sock.sendJson({ type: "recording_stopped" });
    const stopped = timeline.now();
    result.endOfSpeechAtMs = stopped;
    try {
      if (result.serverError) return false;
      if (rerecord === undefined && intervention === undefined) {
        const r = await this.readReply(result, window, stopped, onMessage);
        if (r === "rerecord") return true;
        return false;
      }
    } finally {
      result.ackLatenciesMs.push(...window.latenciesMs);
    }
    if (intervention !== undefined) {
      result.outcome = "intervention";
      result.serverError = { message: intervention };
      return false;
    }
    result.rerecords.push(rerecord!);
    timeline.add("note", "re-recording at the server's request");
    return true;
  }

  private async readReply(
    result: UtteranceResult,
    window: AckWindow,
    stopped: number,
    during: (m: Incoming) => boolean,
  ): Promise<"done" | "rerecord"> {
    const { sock, s } = this;
    let announced = false;
    let meta: { seq: number; len: number } | undefined;
    let lastSeq: number | undefined;
    let parts: Buffer[] = [];
    const segments: Buffer[] = [];
    // Each segment (tts_segments capability) is a complete WAV of its own.
    const endSegment = () => {
      const wav = Buffer.concat(parts);
      checkReplyWav(wav);
      segments.push(wav);
      parts = [];
    };
    for (;;) {
      const m = await sock.next(s.replyTimeoutMs, meta ? "TTS chunk binary" : "reply");
      if (meta) {
        // A tts_chunk_meta is followed by exactly one binary frame of the declared length.
        if (m.kind !== "binary") throw unexpected(m, `waiting for the binary of tts chunk ${meta.seq}`);
        if (m.data.length !== meta.len) {
          throw new ProtocolError(`tts chunk ${meta.seq} declared ${meta.len} bytes, binary has ${m.data.length}`);
        }
        if (m.data.length > 0) result.firstAudioMs ??= m.at - stopped;
        parts.push(m.data);
        meta = undefined;
        continue;
      }
      const type = typeOf(m);
      const msg = m.kind === "text" ? m.msg : {};
      switch (type) {
        case "ack":
          window.onAck(Number(msg.seq), m.at);
          continue;
        case "partial":
        case "request_user_intervention":
          during(m);
          if (type === "request_user_intervention") {
            result.outcome = "intervention";
            result.serverError = { message: text(msg, "message") ?? "" };
            return "done";
          }
          continue;
        case "request_rerecord":
          result.rerecords.push(text(msg, "reason") ?? "");
          this.timeline.add("note", "re-recording at the server's request");
          return "rerecord";
        case "transcript":
          if (typeof msg.text !== "string") throw new ProtocolError("transcript without text");
          result.transcript = msg.text;
          continue;
        case "llm":
          if (typeof msg.text !== "string") throw new ProtocolError("llm without text");
          result.response = msg.text;
          continue;
        case "tts_ready":
          if (typeof msg.duration_ms === "number") {
            result.announcedDurationMs = (result.announcedDurationMs ?? 0) + msg.duration_ms;
          }
          if (announced) {
            // A later tts_ready is only legal as the next segment of a segmented reply.
            if (msg.segment === undefined) throw unexpected(m, "already playing");
            endSegment();
            continue;
          }
          announced = true;
          if (s.readyForPlayback) await sock.sendJson({ type: "ready_for_playback" });
          continue;
        case "tts_chunk_meta": {
          if (!announced) throw unexpected(m, "no tts_ready yet");
          const seq = Number(msg.seq);
          const len = Number(msg.len_bytes ?? msg.len);
          if (!Number.isInteger(seq) || !Number.isInteger(len) || len < 0)
            throw new ProtocolError(`bad tts_chunk_meta: ${m.kind === "text" ? m.raw : ""}`);
          if (lastSeq !== undefined && seq !== lastSeq + 1)
            throw new ProtocolError(`tts chunk seq ${seq} after ${lastSeq}`);
          lastSeq = seq;
          meta = { seq, len };
          continue;
        }
        case "tts_done": {
          if (!announced) throw unexpected(m, "no tts_ready yet");
          endSegment();
          this.acceptSegments(result, segments);
          await sock.sendJson({ type: "playback_complete" });
          result.outcome = "complete";
          return "done";
        }
        case "offer_download": {
          const url = text(msg, "url");
          if (!url) throw new ProtocolError("offer_download without a url");
          result.downloadUrl = url;
          if (!s.fetchDownload) {
            result.outcome = "offered";
            return "done";
          }
          const wav = await this.download(url);
          result.firstAudioMs ??= this.timeline.now() - stopped;
          this.acceptWav(result, wav);
          result.outcome = "complete";
          return "done";
        }
        case "error":
          result.serverError = errorOf(msg);
          result.outcome = "server_error";
          return "done";
        default:
          if (this.common(m, "waiting for the reply")) continue;
          throw unexpected(m, "waiting for the reply");
      }
    }
  }

  /** One segment is the reply as sent; several are joined into one WAV of all their samples. */
  private acceptSegments(result: UtteranceResult, segments: Buffer[]): void {
    result.ttsSegments = segments.length;
    const wav =
      segments.length === 1 ? segments[0]! : toWav(Buffer.concat(segments.map((w) => w.subarray(WAV_HEADER_BYTES))));
    this.acceptWav(result, wav);
  }

  private acceptWav(result: UtteranceResult, wav: Buffer): void {
    const dataBytes = checkReplyWav(wav);
    result.replyWav = wav;
    const actual = pcmDurationMs(dataBytes);
    if (result.announcedDurationMs !== undefined && Math.abs(actual - result.announcedDurationMs) > 100) {
      result.warnings.push(`tts_ready announced ${result.announcedDurationMs} ms, the WAV lasts ${actual} ms`);
    }
    if (wav.length === WAV_HEADER_BYTES) result.warnings.push("reply WAV has no samples");
  }

  /** Fetches an offer_download URL (relative to the server) with the device's token. */
  private async download(url: string): Promise<Buffer> {
    const target = new URL(url, this.s.httpBase);
    const headers: Record<string, string> = {};
    if (this.s.token !== undefined) headers.authorization = `Bearer ${this.s.token}`;
    this.timeline.add("out", `GET ${target.pathname}`);
    let res: Response;
    try {
      res = await fetch(target, { headers, signal: AbortSignal.timeout(this.s.replyTimeoutMs) });
    } catch (err) {
      throw new ConnectionDroppedError(`download failed: ${(err as Error).message}`, { cause: err });
    }
    const body = Buffer.from(await res.arrayBuffer());
    this.timeline.add("in", `HTTP ${res.status} ${body.length} B for GET ${target.pathname}`);
    if (res.status === 401 || res.status === 403) throw new AuthRejectedError(res.status);
    if (res.status !== 200) throw new SimError("http", `download answered HTTP ${res.status}`);
    return body;
  }

  async close(): Promise<void> {
    clearInterval(this.pingTimer);
    await this.sock.close();
  }
}
