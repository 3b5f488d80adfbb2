// A xiaozhi-esp32 device as its firmware behaves on the WebSocket transport
// (docs/protocols/xiaozhi.md): OTA check and activation, hello, listen turns with 16 kHz 60 ms
// Opus up, the reply's Opus decoded and played against the device's 40-packet queue.
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { OpusDecoder, OpusEncoder, type OpusRate, pcmSamples } from "@hotpin/audio";
import { DeviceSocket, type Incoming, type JsonMessage } from "./device-socket";
import { AuthRejectedError, ConnectionDroppedError, ProtocolError, ServerTimeoutError, SimError } from "./errors";
import { Timeline, type TimelineEvent } from "./timeline";

/** The device's decode queue: 2.4 s of 60 ms packets; what overflows is dropped silently. */
const DEVICE_QUEUE_PACKETS = 40;
const UP_RATE = 16_000;
const UP_FRAME_MS = 60;
const UP_FRAME_SAMPLES = (UP_RATE / 1000) * UP_FRAME_MS;
const DOWN_RATES = [8_000, 12_000, 16_000, 24_000, 48_000];
const DOWN_FRAMES_MS = [5, 10, 20, 40, 60, 80, 100, 120];

export interface XiaozhiTurn {
  mode: "auto" | "manual" | "realtime";
  /** Send `abort` this long after the reply's first audio (the user presses the button). */
  abortAfterMs?: number;
  /**
   * Realtime mode (a device with echo cancellation): the microphone stays on while the reply
   * plays (silence, DTX), and the speech is said again this long after the reply's first audio.
   */
  bargeInAfterMs?: number;
}

export interface XiaozhiDeviceOptions {
  /** The OTA URL the device is given, e.g. "http://host:8000/xiaozhi/ota/". */
  otaUrl: string;
  /** Wi-Fi MAC, lowercase with colons. */
  deviceId: string;
  /** Default: a fresh UUID, as a new board generates. */
  clientId?: string;
  firmwareVersion?: string;
  /** PCM s16le 16 kHz mono spoken in every turn. */
  pcm: Buffer;
  turns: XiaozhiTurn[];
  /** A wake word reported with `listen detect` before the first turn. */
  wakeWord?: string;
  /** Called with the code the device would read aloud; the caller binds the device meanwhile. */
  onActivationCode?: (code: string, message: string) => void | Promise<void>;
  /** Give up activating after this long; default 60 s. */
  activationTimeoutMs?: number;
  /** Pause between /activate polls answered 202; the firmware's is 3 s. */
  activationPollMs?: number;
  /** "realtime": one 60 ms packet per 60 ms; "fast": as fast as the socket takes them. */
  pacing?: "realtime" | "fast";
  /** Auto/realtime: the most silence streamed after the speech before the server must end the turn. Default 5 s. */
  maxTrailingSilenceMs?: number;
  /** Longest wait for the server's next reply message; default 30 s. */
  replyTimeoutMs?: number;
  onEvent?: (e: TimelineEvent) => void;
}

export interface XiaozhiTurnResult {
  mode: XiaozhiTurn["mode"];
  transcript?: string;
  sentences: string[];
  emotion?: string;
  /** Opus packets received while Speaking, and their decoded PCM (at the server hello's rate). */
  packets: number;
  replyPcm: Buffer;
  /** Longest packet in samples: must never exceed the announced frame. */
  maxPacketSamples: number;
  /** End of speech (listen stop, or the last speech frame in auto mode) → `stt`. Includes the server's silence window. */
  sttMs?: number;
  /** End of speech → first reply packet. */
  firstAudioMs?: number;
  /** Packets a real device drops: overflowing its 40-packet queue, before tts start, after tts stop. */
  droppedOverflow: number;
  droppedOutsideSpeaking: number;
  /** `abort` → `tts stop`, when the turn aborted. */
  abortToStopMs?: number;
  /** Realtime barge-in: the first frame of the speech said over the reply → `tts stop`. */
  bargeInToStopMs?: number;
}

export interface XiaozhiResult {
  deviceId: string;
  ok: boolean;
  /** The device went through activation (was shown a code) before it got a token. */
  activationCode?: string;
  sessionId?: string;
  /** The downlink as the server hello announced it. */
  downlink?: { sampleRate: number; frameDurationMs: number };
  turns: XiaozhiTurnResult[];
  warnings: string[];
  error?: { kind: string; message: string };
  timeline: TimelineEvent[];
}

interface WebsocketConfig {
  url: string;
  token: string;
  version: number;
}

function systemInfo(o: XiaozhiDeviceOptions, clientId: string, version: string): JsonMessage {
  return {
    version: 2,
    language: "en-US",
    flash_size: 16_777_216,
    minimum_free_heap_size: "7265024",
    mac_address: o.deviceId,
    uuid: clientId,
    chip_model_name: "esp32s3",
    chip_info: { model: 9, cores: 2, revision: 2, features: 18 },
    application: { name: "xiaozhi", version, compile_time: "Aug  8 2026T10:00:00Z", idf_version: "v5.4.1" },
    partition_table: [{ label: "nvs", type: 1, subtype: 2, address: 36_864, size: 16_384 }],
    ota: { label: "ota_0" },
    board: {
      type: "bread-compact-wifi",
      name: "bread-compact-wifi",
      ssid: "sim",
      rssi: -50,
      channel: 6,
      ip: "10.0.0.9",
      mac: o.deviceId,
    },
  };
}

class XiaozhiDevice {
  readonly timeline: Timeline;
  readonly warnings: string[] = [];
  private readonly clientId: string;
  private readonly version: string;
  private sock?: DeviceSocket;
  sessionId = "";
  private protocolVersion = 1;
  private decoder?: OpusDecoder;
  private encoder?: OpusEncoder;
  downlink?: { sampleRate: number; frameDurationMs: number };
  activationCode?: string;

  constructor(private readonly o: XiaozhiDeviceOptions) {
    this.timeline = new Timeline(o.onEvent);
    this.clientId = o.clientId ?? randomUUID();
    this.version = o.firmwareVersion ?? "2.0.4";
  }

  private headers(): Record<string, string> {
    return {
      "device-id": this.o.deviceId,
      "client-id": this.clientId,
      "activation-version": "1",
      "user-agent": `bread-compact-wifi/${this.version}`,
      "accept-language": "en-US",
      "content-type": "application/json",
    };
  }

  private async post(url: string, body: string): Promise<{ status: number; text: string }> {
    this.timeline.add("out", `POST ${new URL(url).pathname}`);
    let res: Response;
    try {
      res = await fetch(url, { method: "POST", headers: this.headers(), body, signal: AbortSignal.timeout(10_000) });
    } catch (err) {
      throw new ConnectionDroppedError(`POST ${url} failed: ${(err as Error).message}`, { cause: err });
    }
    const text = await res.text();
    this.timeline.add("in", `HTTP ${res.status} ${text.slice(0, 160)}`);
    return { status: res.status, text };
  }

  /** The OTA check, repeated through activation until the reply carries a WebSocket config. */
  async checkVersion(): Promise<WebsocketConfig> {
    const deadline = this.timeline.now() + (this.o.activationTimeoutMs ?? 60_000);
    for (;;) {
      const { status, text } = await this.post(
        this.o.otaUrl,
        JSON.stringify(systemInfo(this.o, this.clientId, this.version)),
      );
      if (status !== 200)
        throw new SimError("http", `OTA check answered HTTP ${status}: the firmware retries, then gives up`, true);
      let reply: JsonMessage;
      try {
        reply = JSON.parse(text) as JsonMessage;
      } catch {
        throw new ProtocolError("OTA reply is not JSON");
      }
      if ("mqtt" in reply)
        throw new ProtocolError("OTA reply has an mqtt section: a real device would switch to MQTT+UDP");
      const firmware = reply.firmware as JsonMessage | undefined;
      if (firmware && typeof firmware.url === "string" && firmware.url !== "" && firmware.version !== this.version) {
        throw new ProtocolError(`OTA reply offers firmware ${String(firmware.version)}: a real device would upgrade`);
      }
      const activation = reply.activation as JsonMessage | undefined;
      if (activation && (typeof activation.code === "string" || typeof activation.challenge === "string")) {
        await this.activate(activation, deadline);
        continue;
      }
      const ws = reply.websocket as JsonMessage | undefined;
      if (!ws || typeof ws.url !== "string" || !/^wss?:\/\//.test(ws.url)) {
        throw new ProtocolError("OTA reply has no websocket.url: a real device would fall back to MQTT");
      }
      return {
        url: ws.url,
        token: typeof ws.token === "string" ? ws.token : "",
        version: typeof ws.version === "number" ? ws.version : 1,
      };
    }
  }

  private async activate(activation: JsonMessage, deadline: number): Promise<void> {
    if (typeof activation.code === "string") {
      this.activationCode = activation.code;
      this.timeline.add("note", "activation code shown and read aloud");
      await this.o.onActivationCode?.(
        activation.code,
        typeof activation.message === "string" ? activation.message : "",
      );
    }
    if (typeof activation.challenge !== "string") {
      this.warnings.push("activation without a challenge: a real device re-checks only after 10 × 10 s");
      await sleep(Math.min(this.o.activationPollMs ?? 3000, Math.max(0, deadline - this.timeline.now())));
    }
    const url = this.o.otaUrl.endsWith("/") ? `${this.o.otaUrl}activate` : `${this.o.otaUrl}/activate`;
    while (typeof activation.challenge === "string") {
      if (this.timeline.now() > deadline)
        throw new ServerTimeoutError("the device was not bound before the activation timeout");
      const { status } = await this.post(url, "{}");
      if (status === 200) return;
      if (status !== 202) throw new SimError("http", `activation answered HTTP ${status}`, true);
      await sleep(this.o.activationPollMs ?? 3000);
    }
    if (this.timeline.now() > deadline)
      throw new ServerTimeoutError("the device was not bound before the activation timeout");
  }

  async connect(ws: WebsocketConfig): Promise<void> {
    this.protocolVersion = ws.version;
    const headers: Record<string, string> = {
      "protocol-version": String(ws.version),
      "device-id": this.o.deviceId,
      "client-id": this.clientId,
    };
    if (ws.token) headers.authorization = ws.token.includes(" ") ? ws.token : `Bearer ${ws.token}`;
    this.sock = await DeviceSocket.open(ws.url, { headers, timeoutMs: 10_000, timeline: this.timeline });
    // The firmware's hello, byte for byte apart from the version.
    await this.sock.sendJson({
      type: "hello",
      version: ws.version,
      features: { mcp: true, glyph_push: false },
      transport: "websocket",
      audio_params: { format: "opus", sample_rate: UP_RATE, channels: 1, frame_duration: UP_FRAME_MS },
    });
    const deadline = this.timeline.now() + 10_000;
    for (;;) {
      const m = await this.sock.next(
        Math.max(0, deadline - this.timeline.now()),
        "server hello (the firmware waits 10 s)",
      );
      if (m.kind !== "text" || m.msg.type !== "hello") {
        this.warnings.push(
          `before the hello: ${m.kind === "text" ? String(m.msg.type) : "binary"} (ignored by the firmware)`,
        );
        continue;
      }
      if (typeof m.msg.transport !== "string")
        throw new ProtocolError("server hello without a string transport: the firmware crashes");
      if (m.msg.transport !== "websocket")
        throw new ProtocolError(`server hello transport ${m.msg.transport}: the firmware keeps waiting`);
      if (typeof m.msg.session_id === "string") this.sessionId = m.msg.session_id;
      const p = (m.msg.audio_params ?? {}) as JsonMessage;
      const sampleRate = typeof p.sample_rate === "number" ? p.sample_rate : 24_000;
      const frameDurationMs = typeof p.frame_duration === "number" ? p.frame_duration : 60;
      if (!DOWN_RATES.includes(sampleRate) || !DOWN_FRAMES_MS.includes(frameDurationMs)) {
        throw new ProtocolError(
          `server hello audio ${sampleRate} Hz / ${frameDurationMs} ms: the firmware's decoder cannot open`,
        );
      }
      this.downlink = { sampleRate, frameDurationMs };
      this.decoder = new OpusDecoder(sampleRate as OpusRate);
      // The firmware's encoder: complexity 0, DTX on (silence becomes 1-3 byte packets).
      this.encoder = new OpusEncoder({
        sampleRate: UP_RATE,
        frameMs: UP_FRAME_MS,
        application: "audio",
        complexity: 0,
        dtx: true,
      });
      return;
    }
  }

  private json(type: string, fields: JsonMessage = {}): Promise<void> {
    return this.sock!.sendJson({ session_id: this.sessionId, type, ...fields });
  }

  private frame(opus: Buffer): Buffer {
    if (this.protocolVersion === 2) {
      const out = Buffer.alloc(16 + opus.length);
      out.writeUInt16BE(2, 0);
      out.writeUInt32BE(opus.length, 12);
      opus.copy(out, 16);
      return out;
    }
    if (this.protocolVersion === 3) {
      const out = Buffer.alloc(4 + opus.length);
      out.writeUInt16BE(opus.length, 2);
      opus.copy(out, 4);
      return out;
    }
    return opus;
  }

  private unframe(data: Buffer): Buffer {
    if (this.protocolVersion === 2) return data.subarray(16, 16 + data.readUInt32BE(12));
    if (this.protocolVersion === 3) return data.subarray(4, 4 + data.readUInt16BE(2));
    return data;
  }

  async wakeWord(text: string): Promise<void> {
    await this.json("listen", { state: "detect", text });
  }

  async turn(turn: XiaozhiTurn): Promise<XiaozhiTurnResult> {
    const r: XiaozhiTurnResult = {
      mode: turn.mode,
      sentences: [],
      packets: 0,
      replyPcm: Buffer.alloc(0),
      maxPacketSamples: 0,
      droppedOverflow: 0,
      droppedOutsideSpeaking: 0,
    };
    const replyParts: Buffer[] = [];
    let speaking = false;
    let stopped = false;
    let endOfSpeechAt = 0;
    let firstAudioAt: number | undefined;
    let abortAt: number | undefined;
    let stopAt: number | undefined;
    // The device plays one packet per frame from the first one on; what exceeds its queue is lost.
    let playStart = 0;
    let played = 0;
    const handle = (m: Incoming): void => {
      if (m.kind === "binary") {
        if (!speaking || stopped) {
          r.droppedOutsideSpeaking++;
          return;
        }
        const frameMs = this.downlink!.frameDurationMs;
        if (firstAudioAt === undefined) {
          firstAudioAt = m.at;
          playStart = m.at;
          r.firstAudioMs = m.at - endOfSpeechAt;
        }
        const canHavePlayed = Math.floor((m.at - playStart) / frameMs);
        if (r.packets - Math.min(played, canHavePlayed) >= DEVICE_QUEUE_PACKETS) {
          r.droppedOverflow++;
          return;
        }
        played = Math.max(played, canHavePlayed);
        r.packets++;
        const pcm = this.decoder!.decode(this.unframe(m.data));
        r.maxPacketSamples = Math.max(r.maxPacketSamples, pcm.length / 2);
        replyParts.push(pcm);
        return;
      }
      const msg = m.msg;
      if (msg.type === "stt" && typeof msg.text === "string") {
        r.transcript = msg.text;
        r.sttMs = m.at - endOfSpeechAt;
      } else if (msg.type === "llm" && typeof msg.emotion === "string") r.emotion = msg.emotion;
      else if (msg.type === "tts" && msg.state === "start") speaking = true;
      else if (msg.type === "tts" && msg.state === "sentence_start" && typeof msg.text === "string")
        r.sentences.push(msg.text);
      else if (msg.type === "tts" && msg.state === "stop") {
        stopped = true;
        stopAt = m.at;
        if (abortAt !== undefined) r.abortToStopMs = m.at - abortAt;
      } else if (msg.type === "mcp") void this.answerMcp(msg.payload as JsonMessage);
      else if (msg.type === "alert") this.warnings.push(`alert: ${String(msg.status)} ${String(msg.message)}`);
    };
    const drain = () => {
      for (let m = this.sock!.poll(); m; m = this.sock!.poll()) handle(m);
    };

    await this.json("listen", { state: "start", mode: turn.mode });
    const start = this.timeline.now();
    let sent = 0;
    const send = async (frame: Int16Array) => {
      if (this.o.pacing !== "fast") {
        const due = start + sent * UP_FRAME_MS - this.timeline.now();
        if (due > 0) await sleep(due);
      }
      await this.sock!.sendBinary(this.frame(this.encoder!.encode(frame)));
      sent++;
      drain();
    };
    const samples = pcmSamples(this.o.pcm);
    for (let at = 0; at < samples.length; at += UP_FRAME_SAMPLES) {
      const frame = new Int16Array(UP_FRAME_SAMPLES);
      frame.set(samples.subarray(at, at + UP_FRAME_SAMPLES));
      await send(frame);
      if (speaking) break;
    }
    endOfSpeechAt = this.timeline.now();
    if (turn.mode === "manual") {
      await this.json("listen", { state: "stop" });
    } else {
      // The microphone stays open: silence (DTX) until the server's VAD ends the turn.
      const silence = new Int16Array(UP_FRAME_SAMPLES);
      const maxFrames = Math.ceil((this.o.maxTrailingSilenceMs ?? 5000) / UP_FRAME_MS);
      for (let i = 0; i < maxFrames && r.transcript === undefined && !speaking; i++) await send(silence);
      // Sent faster than real time, the silence may be out before the server has answered.
      if (r.transcript === undefined && !speaking) {
        const m = await this.sock!.next(this.o.pacing === "fast" ? 2000 : 0, "end of turn").catch((err: unknown) => {
          if (err instanceof ServerTimeoutError) return undefined;
          throw err;
        });
        if (m) handle(m);
        if (r.transcript === undefined && !speaking) {
          throw new ServerTimeoutError(
            `the server did not end the turn within ${maxFrames * UP_FRAME_MS} ms of silence`,
          );
        }
      }
    }
    // Realtime with barge-in: the microphone stays open over the reply, one frame per 60 ms.
    const timeout = this.o.replyTimeoutMs ?? 30_000;
    if (turn.mode === "realtime" && turn.bargeInAfterMs !== undefined) {
      const until = this.timeline.now() + timeout;
      let speechAt: number | undefined;
      let at = 0;
      while (!stopped && this.timeline.now() < until) {
        const due = firstAudioAt !== undefined && this.timeline.now() >= firstAudioAt + turn.bargeInAfterMs;
        const frame = new Int16Array(UP_FRAME_SAMPLES);
        if (due && at < samples.length) {
          speechAt ??= this.timeline.now();
          frame.set(samples.subarray(at, at + UP_FRAME_SAMPLES));
          at += UP_FRAME_SAMPLES;
        }
        await send(frame);
      }
      if (!stopped) throw new ServerTimeoutError(`the reply did not stop within ${timeout} ms`);
      if (speechAt !== undefined && stopAt !== undefined) r.bargeInToStopMs = stopAt - speechAt;
    }
    // Speaking: auto and manual stop the microphone; wait for the reply to end.
    while (!stopped) {
      const waitFor =
        abortAt === undefined && turn.abortAfterMs !== undefined && firstAudioAt !== undefined
          ? Math.max(0, firstAudioAt + turn.abortAfterMs - this.timeline.now())
          : timeout;
      let m: Incoming;
      try {
        m = await this.sock!.next(waitFor, speaking ? "reply audio or tts stop" : "stt / tts start");
      } catch (err) {
        if (!(err instanceof ServerTimeoutError) || waitFor === timeout) throw err;
        abortAt = this.timeline.now();
        await this.json("abort");
        continue;
      }
      handle(m);
    }
    // Frames that were already on their way after tts stop are dropped by a real device.
    await sleep(50);
    drain();
    r.replyPcm = Buffer.concat(replyParts);
    if (r.maxPacketSamples > (this.downlink!.sampleRate / 1000) * this.downlink!.frameDurationMs) {
      this.warnings.push(`a reply packet decoded to ${r.maxPacketSamples} samples, longer than the announced frame`);
    }
    return r;
  }

  /** Answers the server's MCP requests as the firmware's MCP server does, with no tools. */
  private async answerMcp(payload: JsonMessage): Promise<void> {
    if (typeof payload?.id !== "number" || typeof payload.method !== "string") return;
    const reply = (body: JsonMessage) => this.json("mcp", { payload: { jsonrpc: "2.0", id: payload.id, ...body } });
    if (payload.method === "initialize") {
      await reply({
        result: {
          protocolVersion: "2024-11-05",
          capabilities: { tools: {} },
          serverInfo: { name: "hotpin-sim", version: this.version },
        },
      });
    } else if (payload.method === "tools/list") await reply({ result: { tools: [] } });
    else await reply({ error: { message: `method ${payload.method} not supported` } });
  }

  async close(): Promise<void> {
    this.encoder?.free();
    this.decoder?.free();
    await this.sock?.close();
  }
}

/** One xiaozhi device: OTA (and activation), hello, then the turns on one connection. */
export async function runXiaozhiDevice(o: XiaozhiDeviceOptions): Promise<XiaozhiResult> {
  const device = new XiaozhiDevice(o);
  const turns: XiaozhiTurnResult[] = [];
  let error: XiaozhiResult["error"];
  try {
    const ws = await device.checkVersion();
    await device.connect(ws);
    if (o.wakeWord) await device.wakeWord(o.wakeWord);
    for (const t of o.turns) turns.push(await device.turn(t));
  } catch (err) {
    error = {
      kind: err instanceof SimError ? err.kind : "input",
      message: err instanceof Error ? err.message : String(err),
    };
    if (err instanceof AuthRejectedError) error.kind = "auth";
  } finally {
    await device.close();
  }
  return {
    deviceId: o.deviceId,
    ok: error === undefined && turns.length === o.turns.length,
    ...(device.activationCode ? { activationCode: device.activationCode } : {}),
    ...(device.sessionId ? { sessionId: device.sessionId } : {}),
    ...(device.downlink ? { downlink: device.downlink } : {}),
    turns,
    warnings: device.warnings,
    ...(error ? { error } : {}),
    timeline: device.timeline.events,
  };
}
