import { setTimeout as sleep } from "node:timers/promises";
import { AckWindow } from "./ack-window";
import { DeviceSocket, type Incoming, type JsonMessage } from "./device-socket";
import { ProtocolError } from "./errors";
import { FirmwareWavReceiver } from "./reply-wav";
import { FIRMWARE_AUDIO_TIMEOUT_MS, FIRMWARE_HEADER_TIMEOUT_MS, type Settings, serverUrl } from "./settings";
import { streamAudio } from "./stream-audio";
import type { Timeline } from "./timeline";
import type { UtteranceResult } from "./types";

/** Statuses after which the firmware may start an utterance. */
const READY_STATUSES = new Set(["connected", "idle", "complete"]);

function describe(m: Incoming): string {
  return m.kind === "binary" ? `binary frame of ${m.data.length} B` : m.raw;
}

function unexpected(m: Incoming, state: string): ProtocolError {
  return new ProtocolError(`unexpected ${describe(m)} while ${state}`);
}

/** A `{"status":"error",...}` ends the utterance; anything else is for the caller. */
function serverError(msg: JsonMessage): UtteranceResult["serverError"] | undefined {
  if (msg.status !== "error") return undefined;
  const code = typeof msg.error_type === "string" ? msg.error_type : undefined;
  return { message: String(msg.message ?? ""), ...(code ? { code } : {}) };
}

/**
 * One connection of a firmware-dialect device: `ws://HOST/ws` with the Bearer header, then
 * `{"session_id":...}` answered by `{"status":"connected","session_id":<same>}`.
 */
export class FirmwareDevice {
  /** The firmware may only start streaming after a connected/idle/complete status. */
  private mayStream = false;

  private constructor(
    readonly sock: DeviceSocket,
    private readonly s: Settings,
    private readonly timeline: Timeline,
  ) {}

  static async connect(s: Settings, timeline: Timeline): Promise<FirmwareDevice> {
    const headers: Record<string, string> = {};
    if (s.token !== undefined) headers.authorization = `Bearer ${s.token}`;
    const sock = await DeviceSocket.open(serverUrl(s.wsBase, "/ws").href, {
      headers,
      timeoutMs: s.connectTimeoutMs,
      timeline,
    });
    const device = new FirmwareDevice(sock, s, timeline);
    try {
      await device.handshake();
    } catch (err) {
      await sock.close();
      throw err;
    }
    return device;
  }

  private async handshake(): Promise<void> {
    await this.sock.sendJson({ session_id: this.s.deviceId });
    const m = await this.sock.next(this.s.connectTimeoutMs, "connected status");
    if (m.kind !== "text" || m.msg.status !== "connected") {
      const err = m.kind === "text" ? serverError(m.msg) : undefined;
      if (err) throw new ProtocolError(`server refused the session: ${err.message}`);
      throw unexpected(m, "waiting for the connected status");
    }
    if (m.msg.session_id !== this.s.deviceId) {
      throw new ProtocolError(
        `connected status names session ${JSON.stringify(m.msg.session_id)}, not ${this.s.deviceId}`,
      );
    }
    this.mayStream = true;
  }

  async utterance(index: number, chunks: readonly Buffer[]): Promise<UtteranceResult> {
    const { s, sock, timeline } = this;
    const window = new AckWindow();
    const result: UtteranceResult = {
      index,
      outcome: "server_error",
      chunksSent: 0,
      bytesSent: 0,
      streamAborted: false,
      ackLatenciesMs: window.latenciesMs,
      partials: [],
      rerecords: [],
      warnings: [],
    };
    // Between utterances the server may report idle; anything else is out of place.
    for (let m = sock.poll(); m; m = sock.poll()) {
      if (m.kind === "text" && typeof m.msg.status === "string" && READY_STATUSES.has(m.msg.status))
        this.mayStream = true;
      else throw unexpected(m, "idle between utterances");
    }
    while (!this.mayStream) {
      const m = await sock.next(s.replyTimeoutMs, "idle status");
      if (m.kind === "text" && typeof m.msg.status === "string" && READY_STATUSES.has(m.msg.status))
        this.mayStream = true;
      else throw unexpected(m, "waiting for an idle status");
    }
    this.mayStream = false;
    if (s.handshakeDelayMs > 0) {
      timeline.add("note", `waiting ${s.handshakeDelayMs} ms before streaming (firmware stabilisation delay)`);
      await sleep(s.handshakeDelayMs);
    }
    const ack = (m: Incoming): boolean => {
      if (m.kind === "text" && m.msg.status === "receiving") {
        window.onAck(Number(m.msg.chunks_received), m.at);
        return false;
      }
      throw unexpected(m, "streaming audio");
    };
    const streamed = await streamAudio(
      sock,
      chunks,
      window,
      s.stream,
      {
        sendChunk: (chunk) => sock.sendBinary(chunk),
        onMessage: ack,
      },
      timeline,
    );
    result.chunksSent = streamed.chunksSent;
    result.bytesSent = streamed.bytesSent;
    result.streamAborted = streamed.aborted;
    await sock.sendJson({ signal: "EOS" });
    const eos = timeline.now();
    result.endOfSpeechAtMs = eos;
    await this.readReply(result, window, eos);
    return result;
  }

  /** The reply in the firmware's order: transcription → llm → tts → WAV → zero-length frame → complete. */
  private async readReply(result: UtteranceResult, window: AckWindow, eos: number): Promise<void> {
    const { s, sock } = this;
    type Phase = "transcription" | "llm" | "tts" | "audio" | "complete";
    let phase: Phase = "transcription";
    const wav = new FirmwareWavReceiver();
    for (;;) {
      const timeout =
        phase === "audio"
          ? wav.headerSeen
            ? FIRMWARE_AUDIO_TIMEOUT_MS
            : FIRMWARE_HEADER_TIMEOUT_MS
          : s.replyTimeoutMs;
      const m = await sock.next(Math.min(timeout, s.replyTimeoutMs), `reply (${phase} stage)`);
      if (m.kind === "binary") {
        if (phase !== "audio")
          throw new ProtocolError(`binary frame before the tts stage (${phase}): the device drops it`);
        if (m.data.length === 0) {
          result.replyWav = wav.finish();
          if (wav.skippedBytes > 0) result.warnings.push(`${wav.skippedBytes} bytes before RIFF`);
          phase = "complete";
          continue;
        }
        result.firstAudioMs ??= m.at - eos;
        wav.push(m.data);
        continue;
      }
      const { msg } = m;
      const err = serverError(msg);
      if (err) {
        // Not understood, or a server failure: the utterance ends here (also mid-audio).
        result.serverError = err;
        result.outcome = "server_error";
        this.mayStream = true;
        return;
      }
      if (msg.status === "receiving" && phase === "transcription") {
        window.onAck(Number(msg.chunks_received), m.at); // the ACK for the last chunks may trail EOS
        continue;
      }
      if (msg.status === "processing" && msg.stage === phase) {
        if (phase === "transcription") phase = "llm";
        else if (phase === "llm") {
          if (typeof msg.transcript !== "string") throw new ProtocolError("llm stage without a transcript string");
          result.transcript = msg.transcript;
          if (typeof msg.has_image === "boolean") result.hasImage = msg.has_image;
          phase = "tts";
        } else if (phase === "tts") {
          if (typeof msg.response !== "string") throw new ProtocolError("tts stage without a response string");
          result.response = msg.response;
          phase = "audio";
        }
        continue;
      }
      if (msg.status === "complete" && phase === "complete") {
        result.outcome = "complete";
        this.mayStream = true;
        return;
      }
      throw unexpected(m, `waiting for the ${phase === "audio" ? "reply audio" : `${phase} stage`}`);
    }
  }

  close(): Promise<void> {
    return this.sock.close();
  }
}
