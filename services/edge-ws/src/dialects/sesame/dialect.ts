import { randomUUID } from "node:crypto";
import {
  audioMessage,
  type ClientMessage,
  callConnectResponse,
  callDisconnectResponse,
  chatMessage,
  errorMessage,
  initializeMessage,
  parseClientMessage,
  pingResponse,
  SESAME_SAMPLE_RATE,
  SesameProtocolError,
} from "@hotpin/sesame";
import { frames, PlayClock } from "../../pacer";
import type { Output } from "../../session/model";
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

/** Downstream audio per message: 40 ms at 24 kHz, 1920 bytes (2.6 KB of JSON). */
export const SESAME_FRAME_MS = 40;

export const SESAME_CAPABILITIES: Capabilities = {
  turn: vad,
  inputRate: SESAME_SAMPLE_RATE,
  outputRate: SESAME_SAMPLE_RATE,
  // The Pi client has no echo cancellation; the guard's loudness, duration and first-500-ms rules keep it from interrupting itself.
  bargeIn: true,
  announcesState: false,
  partials: false,
  lateAudio: "drop",
};

/**
 * Sesame-style full-duplex dialect (docs/protocols/sesame.md): JSON messages only, the microphone
 * streamed without pause as base64 PCM at 24 kHz, turns decided by the server's VAD, replies as
 * audio messages paced in real time. The call handshake (`call_connect_response`,
 * `call_disconnect_response`) is answered here, as a transport detail of the call: it carries no
 * session state, and the client sends it only after `initialize`.
 */
export class SesameDialect implements Dialect {
  readonly name = "sesame";
  readonly capabilities = SESAME_CAPABILITIES;
  private sessionId: string | undefined;
  private callId: string | undefined;
  private pingRequest: string | undefined;

  constructor(
    private readonly transport: Transport,
    /** Reply audio the client may have queued (HOTPIN_EDGE_SESAME_LEAD_MS). */
    private readonly leadMs: number,
  ) {}

  text(raw: string): Parsed {
    let m: ClientMessage;
    try {
      m = parseClientMessage(raw);
    } catch (err) {
      if (err instanceof SesameProtocolError) return refuse("bad_message", err.message);
      throw err;
    }
    switch (m.type) {
      case "client_location_state":
        return none; // personal data: neither kept nor logged
      case "call_connect":
        if (!this.sessionId) return refuse("illegal_state", "call_connect before initialize");
        if (m.sampleRate !== SESAME_SAMPLE_RATE) {
          return refuse("bad_message", `this server streams audio at ${SESAME_SAMPLE_RATE} Hz`);
        }
        this.callId ??= randomUUID();
        this.write(callConnectResponse(this.sessionId, this.callId, m.requestId));
        return none;
      case "ping":
        this.pingRequest = m.requestId;
        return one({ type: "ping" });
      case "audio":
        return this.callId ? one({ type: "audio", pcm: m.pcm }) : refuse("illegal_state", "audio before call_connect");
      case "call_disconnect":
        // The client waits 3 s for the echo of its request_id, then closes; the reply stops now.
        this.write(callDisconnectResponse(this.sessionId ?? "", this.callId, m.requestId));
        this.callId = undefined;
        return one({ type: "abort" });
      case "unknown":
        return refuse("unknown_type", `${m.name} is not served here`);
    }
  }

  binary(): Parsed {
    return refuse("bad_message", "this protocol sends JSON text messages only");
  }

  send(out: Output): void {
    const msg = this.wire(out);
    if (msg) this.write(msg);
  }

  private wire(out: Output): Record<string, unknown> | undefined {
    switch (out.type) {
      case "connected":
        if (this.sessionId) return undefined;
        this.sessionId = out.sessionId;
        return initializeMessage(out.sessionId);
      case "pong":
        return this.pingRequest ? pingResponse(this.sessionId ?? "", this.callId, this.pingRequest) : undefined;
      // The server's own text goes out as `chat`, which the client accepts and ignores.
      case "transcript":
        return chatMessage(this.sessionId ?? "", this.callId, "user", out.text);
      case "answer":
        return chatMessage(this.sessionId ?? "", this.callId, "assistant", out.text);
      case "error":
        return errorMessage(this.sessionId, out.code, out.message);
      // The client has no counterpart: turns are ours, and an interrupted reply simply stops.
      case "ack":
      case "partial":
      case "processing":
      case "rerecord":
      case "intervention":
      case "state":
      case "reset_complete":
      case "image_received":
      case "conversation_reset":
      case "complete":
      case "interrupted":
        return undefined;
    }
  }

  /**
   * Each sentence as it comes, in 40 ms audio messages on one real-time clock: the client writes
   * each message to its sound card as it arrives, so at most `leadMs` is ever queued there and a
   * barge-in (the pace signal) silences it within that. Returns once the client has played it all.
   */
  async play(reply: Reply, ctl: PlaybackControl): Promise<PlaybackResult> {
    const { signal, bytesPerSecond, highWaterBytes } = ctl.pace;
    const clock = new PlayClock(this.leadMs);
    const frameBytes = (bytesPerSecond * SESAME_FRAME_MS) / 1000;
    let bytes = 0;
    const aborted = (): PlaybackResult => ({ outcome: "aborted", bytes });
    try {
      for await (const { pcm } of reply.segments) {
        for (const frame of frames(pcm, frameBytes)) {
          const callId = this.callId;
          if (!callId || !this.transport.open) return aborted(); // the call ended: the rest is not heard
          if (!(await clock.book((frame.length * 1000) / bytesPerSecond, signal))) return aborted();
          if (this.transport.bufferedAmount > highWaterBytes) await this.transport.flushed();
          if (signal?.aborted) return aborted();
          if (bytes === 0) ctl.firstAudio();
          this.write(audioMessage(this.sessionId ?? "", callId, frame));
          bytes += frame.length;
        }
      }
    } catch (err) {
      if (signal?.aborted) return aborted(); // the interruption cancelled the LLM or TTS stream
      throw err;
    }
    await clock.drained(signal);
    if (signal?.aborted) return aborted();
    await ctl.beforeDone(bytes);
    return { outcome: "played", bytes };
  }

  private write(msg: Record<string, unknown>): void {
    this.transport.sendText(JSON.stringify(msg));
  }
}
