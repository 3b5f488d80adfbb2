// The Sesame-style Raspberry Pi client as it behaves on the wire (docs/protocols/sesame.md):
// initialize → location → call_connect → ping, then the microphone streamed without pause at
// 24 kHz in 637-sample messages while replies play as they arrive. The server decides turns.
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { pcmSamples, Resampler } from "@hotpin/audio";
import { DeviceSocket, type Incoming, type JsonMessage } from "./device-socket";
import { ProtocolError, ServerTimeoutError, SimError } from "./errors";
import { Timeline, type TimelineEvent } from "./timeline";

const PATH = "/agent-service-0/v1/connect";
const MIC_RATE = 24_000;
const FRAME_SAMPLES = 637;
const FRAME_MS = (FRAME_SAMPLES * 1000) / MIC_RATE;

export interface SesameDeviceOptions {
  /** Server base, e.g. "ws://127.0.0.1:8000"; the client's path is added. */
  url: string;
  /** The device JWT (the client refuses to connect with a token that is not a JWT). */
  token: string;
  clientName?: string;
  character?: string;
  timezone?: string;
  /** PCM s16le 16 kHz mono, spoken once per utterance (resampled to the client's 24 kHz). */
  pcm: Buffer;
  utterances?: number;
  /** Silence streamed after a reply ends, before the next utterance. Default 1000 ms. */
  gapMs?: number;
  /**
   * False: only stream the microphone (each utterance once, back to back) and wait for no reply,
   * e.g. to measure what an always-listening device costs the server. Default true.
   */
  expectReplies?: boolean;
  /** Start the next utterance this long after a reply's first audio: the user interrupts. */
  bargeInAfterMs?: number;
  /** The reply has ended when no audio arrived for this long. Default 1000 ms. */
  replyQuietMs?: number;
  /** Longest wait from end of speech to the reply's first audio. Default 15 s. */
  replyTimeoutMs?: number;
  connectTimeoutMs?: number;
  onEvent?: (e: TimelineEvent) => void;
}

export interface SesameTurnResult {
  /** End of speech → the reply's first audio message (includes the server's silence window). */
  firstAudioMs?: number;
  /** Reply audio received, at the call's rate. */
  replyPcm: Buffer;
  /** How far the reply ran ahead of real time at most (the client blocks on its sound card). */
  maxLeadMs: number;
  /** The next utterance interrupted this reply: reply audio still arriving this long after the user started. */
  bargedIn: boolean;
  audioAfterBargeInMs?: number;
}

export interface SesameResult {
  ok: boolean;
  sessionId?: string;
  callId?: string;
  sampleRate?: number;
  turns: SesameTurnResult[];
  /** `chat` contents, in order: the server's text. */
  chats: unknown[];
  /** Message types the client only logs. */
  unknownTypes: string[];
  disconnectAcked: boolean;
  warnings: string[];
  error?: { kind: string; message: string };
  timeline: TimelineEvent[];
}

function connectUrl(o: SesameDeviceOptions): string {
  const url = new URL(PATH, o.url.replace(/^http/, "ws"));
  url.searchParams.set("id_token", o.token);
  url.searchParams.set("client_name", o.clientName ?? "RP-Web");
  url.searchParams.set("usercontext", JSON.stringify({ timezone: o.timezone ?? "America/New_York" }));
  url.searchParams.set("character", o.character ?? "Miles");
  return url.href;
}

class SesameDevice {
  readonly timeline: Timeline;
  readonly warnings: string[] = [];
  readonly chats: unknown[] = [];
  readonly unknownTypes: string[] = [];
  sock?: DeviceSocket;
  sessionId?: string;
  callId?: string;
  sampleRate = MIC_RATE;

  constructor(private readonly o: SesameDeviceOptions) {
    this.timeline = new Timeline(o.onEvent);
  }

  private send(type: string, fields: JsonMessage = {}): Promise<void> {
    return this.sock!.sendJson({ type, session_id: this.sessionId, ...fields });
  }

  private async expect(type: string, timeoutMs: number): Promise<JsonMessage> {
    const deadline = this.timeline.now() + timeoutMs;
    for (;;) {
      const m = await this.sock!.next(Math.max(0, deadline - this.timeline.now()), type);
      if (m.kind === "binary") throw new ProtocolError("binary frame: the client only reads JSON text");
      if (m.msg.type === type) return m.msg;
      this.other(m.msg);
    }
  }

  private other(msg: JsonMessage): void {
    if (typeof msg.type !== "string") this.warnings.push("message without a type (the client logs an error)");
    else if (msg.type === "chat") this.chats.push(msg.content);
    else if (msg.type !== "audio") this.unknownTypes.push(msg.type);
  }

  async connect(): Promise<void> {
    // ws offers "permessage-deflate; client_max_window_bits" by default, as the Pi's client does.
    this.sock = await DeviceSocket.open(connectUrl(this.o), {
      timeoutMs: this.o.connectTimeoutMs ?? 10_000,
      timeline: this.timeline,
    });
    const timeout = this.o.connectTimeoutMs ?? 10_000;
    const init = await this.expect("initialize", timeout);
    const content = init.content as JsonMessage | undefined;
    if (typeof content?.session_id !== "string")
      throw new ProtocolError("initialize without content.session_id: the client fails on it");
    this.sessionId = content.session_id;
    await this.send("client_location_state", {
      content: { latitude: 0, longitude: 0, address: "", timezone: this.o.timezone ?? "America/New_York" },
    });
    await this.send("call_connect", {
      request_id: randomUUID(),
      content: {
        sample_rate: MIC_RATE,
        audio_codec: "none",
        reconnect: false,
        is_private: false,
        settings: { preset: this.o.character ?? "Miles" },
        client_name: this.o.clientName ?? "RP-Web",
        client_metadata: {},
      },
    });
    const connected = await this.expect("call_connect_response", timeout);
    const rate = (connected.content as JsonMessage | undefined)?.sample_rate;
    if (connected.call_id === undefined || connected.call_id === null)
      throw new ProtocolError("call_connect_response without a call_id");
    if (typeof rate !== "number")
      throw new ProtocolError("call_connect_response without content.sample_rate: the client fails on it");
    this.callId = String(connected.call_id);
    this.sampleRate = rate;
    await this.send("ping", { call_id: connected.call_id, request_id: randomUUID(), content: "ping" });
    await this.expect("ping_response", timeout);
  }

  /** Streams the microphone through every utterance and the replies, in real time. */
  async talk(): Promise<SesameTurnResult[]> {
    const speech = upsample(pcmSamples(this.o.pcm));
    const count = this.o.utterances ?? 1;
    const quietMs = this.o.replyQuietMs ?? 1000;
    const turns: SesameTurnResult[] = [];
    const t0 = this.timeline.now();
    let frame = 0;
    let reply:
      | { parts: Buffer[]; first?: number; last?: number; samples: number; result: SesameTurnResult }
      | undefined;
    let interrupted: SesameTurnResult | undefined;
    let bargeInAt = 0;
    const silence = new Int16Array(FRAME_SAMPLES);

    const onAudio = (m: Incoming & { kind: "text" }) => {
      const data = (m.msg.content as JsonMessage | undefined)?.audio_data;
      if (typeof data !== "string") {
        this.warnings.push("audio message without content.audio_data");
        return;
      }
      const pcm = Buffer.from(data, "base64");
      if (interrupted && m.at >= bargeInAt) interrupted.audioAfterBargeInMs = m.at - bargeInAt;
      if (!reply) return;
      reply.first ??= m.at;
      reply.last = m.at;
      reply.parts.push(pcm);
      reply.samples += pcm.length / 2;
      const lead = (reply.samples * 1000) / this.sampleRate - (m.at - reply.first);
      reply.result.maxLeadMs = Math.max(reply.result.maxLeadMs, lead);
    };
    const drain = () => {
      for (let m = this.sock!.poll(); m; m = this.sock!.poll()) {
        if (m.kind === "binary") this.warnings.push("binary frame (the client only reads text)");
        else if (m.msg.type === "audio") onAudio(m);
        else this.other(m.msg);
      }
    };
    const tick = async (samples: Int16Array) => {
      const due = t0 + frame * FRAME_MS - this.timeline.now();
      if (due > 0) await sleep(due);
      await this.send("audio", {
        call_id: this.callId,
        content: { audio_data: Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength).toString("base64") },
      });
      frame++;
      drain();
    };

    for (let u = 0; u < count; u++) {
      // Notes in the protocol log, so a test can read the order of speech and server messages.
      this.timeline.add("note", `utterance ${u + 1} starts`);
      for (let at = 0; at < speech.length; at += FRAME_SAMPLES) {
        const f = new Int16Array(FRAME_SAMPLES);
        f.set(speech.subarray(at, at + FRAME_SAMPLES));
        await tick(f);
      }
      // Speech is over: the reply to it starts collecting now.
      interrupted = undefined;
      if (reply) this.finish(reply, turns);
      const endOfSpeech = this.timeline.now();
      this.timeline.add("note", `utterance ${u + 1} ends`, endOfSpeech);
      if (this.o.expectReplies === false) continue;
      const result: SesameTurnResult = { replyPcm: Buffer.alloc(0), maxLeadMs: 0, bargedIn: false };
      reply = { parts: [], samples: 0, result };
      for (;;) {
        await tick(silence);
        const now = this.timeline.now();
        if (reply.first === undefined && now - endOfSpeech > (this.o.replyTimeoutMs ?? 15_000)) {
          throw new ServerTimeoutError(
            `no reply audio within ${this.o.replyTimeoutMs ?? 15_000} ms of the end of speech`,
          );
        }
        if (reply.first !== undefined) result.firstAudioMs ??= reply.first - endOfSpeech;
        const bargeIn = this.o.bargeInAfterMs !== undefined && u + 1 < count && reply.first !== undefined;
        if (bargeIn && now >= reply.first! + this.o.bargeInAfterMs!) {
          result.bargedIn = true;
          interrupted = result;
          bargeInAt = now;
          break;
        }
        if (reply.last !== undefined && now - reply.last >= quietMs) break;
      }
      if (!result.bargedIn) {
        this.finish(reply, turns);
        reply = undefined;
        if (u + 1 < count) for (let at = 0; at < (this.o.gapMs ?? 1000); at += FRAME_MS) await tick(silence);
      } else {
        // The reply's own result is complete; audio arriving from now on only measures the stop.
        this.finish(reply, turns);
        reply = undefined;
      }
    }
    return turns;
  }

  private finish(reply: { parts: Buffer[]; result: SesameTurnResult }, turns: SesameTurnResult[]): void {
    if (turns.includes(reply.result)) return;
    reply.result.replyPcm = Buffer.concat(reply.parts);
    turns.push(reply.result);
  }

  /** call_disconnect, then up to 3 s for the response echoing its request_id, as the client waits. */
  async disconnect(): Promise<boolean> {
    const requestId = randomUUID();
    await this.send("call_disconnect", {
      call_id: this.callId,
      request_id: requestId,
      content: { reason: "user_request" },
    });
    const deadline = this.timeline.now() + 3000;
    for (;;) {
      let m: Incoming;
      try {
        m = await this.sock!.next(Math.max(0, deadline - this.timeline.now()), "call_disconnect_response");
      } catch (err) {
        if (err instanceof ServerTimeoutError) return false;
        throw err;
      }
      if (m.kind === "text" && m.msg.type === "call_disconnect_response") {
        if (m.msg.request_id === requestId) return true;
        this.warnings.push("call_disconnect_response with another request_id");
      }
    }
  }
}

function upsample(pcm: Int16Array): Int16Array {
  const r = new Resampler(16_000, MIC_RATE);
  const a = r.push(pcm);
  const b = r.flush();
  const out = new Int16Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** One Sesame-style client: connect, utterances on one call, then call_disconnect. */
export async function runSesameDevice(o: SesameDeviceOptions): Promise<SesameResult> {
  const device = new SesameDevice(o);
  let turns: SesameTurnResult[] = [];
  let disconnectAcked = false;
  let error: SesameResult["error"];
  try {
    await device.connect();
    turns = await device.talk();
    disconnectAcked = await device.disconnect();
  } catch (err) {
    error = {
      kind: err instanceof SimError ? err.kind : "input",
      message: err instanceof Error ? err.message : String(err),
    };
  } finally {
    await device.sock?.close();
  }
  return {
    ok: error === undefined && disconnectAcked,
    ...(device.sessionId ? { sessionId: device.sessionId } : {}),
    ...(device.callId ? { callId: device.callId } : {}),
    sampleRate: device.sampleRate,
    turns,
    chats: device.chats,
    unknownTypes: device.unknownTypes,
    disconnectAcked,
    warnings: device.warnings,
    ...(error ? { error } : {}),
    timeline: device.timeline.events,
  };
}
