import type { IncomingMessage, ServerResponse } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { OpusDecoder, OpusEncoder } from "@hotpin/audio";
import { DEFAULT_LISTENER_OPTIONS, Listener } from "@hotpin/vad";
import {
  decodeAudioFrame,
  encodeAudioFrame,
  llmEmotion,
  newActivationChallenge,
  newActivationCode,
  otaResponse,
  type ProtocolVersion,
  parseActivateRequest,
  parseConnectRequest,
  parseDeviceMessage,
  parseOtaRequest,
  serverHello,
  sttMessage,
  ttsSentenceStart,
  ttsStart,
  ttsStop,
} from "@hotpin/xiaozhi";
import type { WebSocket } from "ws";
import { readBody, startHttpPeer } from "./http-peer";

export const XIAOZHI_TRANSCRIPT = "what time is it";
export const XIAOZHI_SENTENCE = "It is noon.";

/**
 * The server side of xiaozhi (docs/protocols/xiaozhi.md), for tests only: OTA with activation
 * and binding, the hello, manual turns ended by `listen stop` and auto turns ended by a real VAD,
 * replies as paced 24 kHz 60 ms Opus, `abort` answered by `tts stop` at once.
 */
export interface XiaozhiPeerOptions {
  /** Device ids that are bound from the start. */
  bound?: string[];
  /** Protocol version handed out in the OTA reply (no key when 1). */
  version?: ProtocolVersion;
  /** Misbehaviours, to test the device's checks. */
  sendMqtt?: boolean;
  helloWithoutTransport?: boolean;
  /** Reply length; default 1 s. */
  replyMs?: number;
}

export interface XiaozhiPeer {
  otaUrl: string;
  hellos: unknown[];
  /** Every device message type (and listen state) in arrival order. */
  received: string[];
  /** Samples of each utterance the peer heard (decoded Opus). */
  utterances: number[];
  faults: string[];
  codes: Map<string, string>;
  bind(code: string): void;
  close(): Promise<void>;
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}

/** A 440 Hz tone at 24 kHz: the reply's audio. */
function replyTone(ms: number): Int16Array {
  const n = (24_000 * ms) / 1000;
  return Int16Array.from({ length: n }, (_, i) => Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 24_000)));
}

export async function startXiaozhiPeer(options: XiaozhiPeerOptions = {}): Promise<XiaozhiPeer> {
  const bound = new Set(options.bound ?? []);
  const codes = new Map<string, string>();
  const state = {
    hellos: [] as unknown[],
    received: [] as string[],
    utterances: [] as number[],
    faults: [] as string[],
  };
  let wsUrl = "";

  const onRequest = async (req: IncomingMessage, res: ServerResponse) => {
    const body = (await readBody(req)).toString("utf8");
    try {
      if (req.method === "POST" && req.url === "/xiaozhi/ota/") {
        const ota = parseOtaRequest(req.headers, body);
        const common = { firmwareVersion: ota.firmwareVersion, nowMs: Date.now(), timezoneOffsetMinutes: 0 };
        if (bound.has(ota.deviceId)) {
          const version = options.version && options.version > 1 ? options.version : undefined;
          const answer = otaResponse({
            ...common,
            websocket: { url: wsUrl, token: `tok-${ota.deviceId}`, ...(version ? { version } : {}) },
          });
          reply(res, 200, options.sendMqtt ? { ...answer, mqtt: { endpoint: "mqtt.example" } } : answer);
        } else {
          const code = newActivationCode();
          codes.set(code, ota.deviceId);
          reply(
            res,
            200,
            otaResponse({
              ...common,
              activation: { code, message: `mesh\n${code}`, challenge: newActivationChallenge() },
            }),
          );
        }
      } else if (req.method === "POST" && req.url === "/xiaozhi/ota/activate") {
        const { deviceId } = parseActivateRequest(req.headers, body);
        res.writeHead(bound.has(deviceId) ? 200 : 202).end();
      } else {
        res.writeHead(404).end();
      }
    } catch (err) {
      reply(res, 400, { error: (err as Error).message });
    }
  };

  const onConnection = (ws: WebSocket, req: IncomingMessage) => {
    const { protocolVersion } = parseConnectRequest(req.headers);
    const sessionId = `sess-${state.hellos.length + 1}`;
    const decoder = new OpusDecoder(16_000);
    const encoder = new OpusEncoder({
      sampleRate: 24_000,
      frameMs: 60,
      application: "audio",
      bitrate: 24_000,
      complexity: 5,
    });
    const listenerReady = Listener.create(DEFAULT_LISTENER_OPTIONS);
    let listener: Listener | undefined;
    // Messages are handled one after another, the first ones once the VAD is ready.
    let chain: Promise<void> = listenerReady.then((l) => {
      listener = l;
    });
    let heard = 0;
    let speaking = false;
    let aborted = false;
    let mode = "auto";
    const send = (m: unknown) => ws.send(JSON.stringify(m));

    const answer = async () => {
      state.utterances.push(heard);
      heard = 0;
      speaking = true;
      aborted = false;
      send(sttMessage(sessionId, XIAOZHI_TRANSCRIPT));
      send(ttsStart(sessionId));
      send(llmEmotion(sessionId, "happy", "🙂"));
      send(ttsSentenceStart(sessionId, XIAOZHI_SENTENCE));
      await sleep(30);
      const tone = replyTone(options.replyMs ?? 1000);
      const t0 = performance.now();
      for (let i = 0, n = 0; i + 1440 <= tone.length; i += 1440, n++) {
        if (aborted || ws.readyState !== ws.OPEN) return;
        // Five packets at once, then one per 60 ms on an absolute schedule (the reference server's pacing).
        const due = t0 + Math.max(0, n - 5) * 60 - performance.now();
        if (due > 0) await sleep(due);
        if (aborted) return;
        ws.send(encodeAudioFrame(protocolVersion, await encoder.encodeAsync(tone.subarray(i, i + 1440))));
      }
      await sleep(7 * 60);
      if (!aborted) send(ttsStop(sessionId));
      speaking = false;
    };

    const handle = (data: Buffer, isBinary: boolean) => {
      if (isBinary) {
        try {
          const pcm = decoder.decode(decodeAudioFrame(protocolVersion, data).opus);
          heard += pcm.length / 2;
          if (mode !== "manual" && listener && !speaking) {
            for (const e of listener.push(pcm)) if (e.type === "end") void answer();
          }
        } catch (err) {
          state.faults.push((err as Error).message);
        }
        return;
      }
      try {
        const m = parseDeviceMessage(data.toString("utf8"));
        state.received.push(m.type === "listen" ? `listen ${m.state}` : m.type);
        if (m.type === "hello") {
          state.hellos.push(m);
          const hello = serverHello({ sessionId, sampleRate: 24_000, frameDurationMs: 60 }) as Record<string, unknown>;
          if (options.helloWithoutTransport) delete hello.transport;
          send(hello);
        } else if (m.type === "listen" && m.state === "start") {
          mode = m.mode;
          heard = 0;
          listener?.reset();
        } else if (m.type === "listen" && m.state === "stop") {
          void answer();
        } else if (m.type === "abort") {
          aborted = true;
          speaking = false;
          send(ttsStop(sessionId));
        }
      } catch (err) {
        state.faults.push((err as Error).message);
      }
    };
    ws.on("message", (data: Buffer, isBinary: boolean) => {
      chain = chain.then(() => handle(data, isBinary));
    });
    ws.on("close", () => {
      aborted = true;
      void listenerReady.then((l) => l.free());
      decoder.free();
      encoder.free();
    });
  };

  const peer = await startHttpPeer({
    authorize: (req) => {
      try {
        const { deviceId, token } = parseConnectRequest(req.headers);
        return bound.has(deviceId) && token === `tok-${deviceId}` ? undefined : 401;
      } catch {
        return 400;
      }
    },
    onConnection,
    onRequest: (req, res) => void onRequest(req, res),
  });
  wsUrl = `ws://127.0.0.1:${peer.port}/xiaozhi/v1/`;
  return {
    otaUrl: `http://127.0.0.1:${peer.port}/xiaozhi/ota/`,
    ...state,
    codes,
    bind: (code) => {
      const id = codes.get(code);
      if (id) bound.add(id);
    },
    close: () => peer.close(),
  };
}
