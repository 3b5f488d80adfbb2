import type { IncomingMessage } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { pcmBytes, pcmSamples, Resampler } from "@hotpin/audio";
import {
  audioMessage,
  callConnectResponse,
  callDisconnectResponse,
  chatMessage,
  initializeMessage,
  parseClientMessage,
  parseConnectQuery,
  pingResponse,
  SESAME_PATH,
} from "@hotpin/sesame";
import { DEFAULT_BARGE_IN, DEFAULT_LISTENER_OPTIONS, Listener } from "@hotpin/vad";
import type { WebSocket } from "ws";
import { startHttpPeer } from "./http-peer";

export const SESAME_TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjQxMDI0NDQ4MDB9.sig";
export const SESAME_REPLY = "It is noon.";

/**
 * The server side of the Sesame-style protocol (docs/protocols/sesame.md), for tests only: the
 * handshake, turns decided by a real VAD on the continuous stream, replies as 24 kHz audio paced
 * in real time, barge-in stopping the reply.
 */
export interface SesamePeerOptions {
  replyMs?: number;
}

export interface SesamePeer {
  url: string;
  /** Client message types in arrival order (audio counted, not listed). */
  received: string[];
  audioMessages: number;
  /** Extensions the server agreed to, per connection. */
  extensions: string[];
  turns: number;
  bargeIns: number;
  faults: string[];
  close(): Promise<void>;
}

function tone(ms: number): Int16Array {
  const n = (24_000 * ms) / 1000;
  return Int16Array.from({ length: n }, (_, i) => Math.round(8000 * Math.sin((2 * Math.PI * 330 * i) / 24_000)));
}

export async function startSesamePeer(options: SesamePeerOptions = {}): Promise<SesamePeer> {
  const state = { received: [] as string[], extensions: [] as string[], faults: [] as string[] };
  const counts = { audioMessages: 0, turns: 0, bargeIns: 0 };

  const onConnection = (ws: WebSocket) => {
    state.extensions.push(ws.extensions);
    const sessionId = `sess-${state.extensions.length}`;
    const callId = `call-${state.extensions.length}`;
    const down = new Resampler(24_000, 16_000);
    const listenerReady = Listener.create({
      ...DEFAULT_LISTENER_OPTIONS,
      bargeIn: { ...DEFAULT_BARGE_IN, ignoreFirstMs: 0 },
    });
    let chain: Promise<unknown> = listenerReady;
    let replying = false;
    let cancelled = false;
    const send = (m: unknown) => ws.send(JSON.stringify(m));

    const answer = async (listener: Listener) => {
      counts.turns++;
      replying = true;
      cancelled = false;
      send(chatMessage(sessionId, callId, "assistant", SESAME_REPLY));
      const pcm = tone(options.replyMs ?? 1000);
      listener.playbackStarted();
      const t0 = performance.now();
      // 40 ms messages, each sent when the previous one has played.
      for (let i = 0, n = 0; i < pcm.length; i += 960, n++) {
        const due = t0 + n * 40 - performance.now();
        if (due > 0) await sleep(due);
        if (cancelled || ws.readyState !== ws.OPEN) break;
        send(audioMessage(sessionId, callId, pcmBytes(pcm.subarray(i, i + 960))));
      }
      replying = false;
      if (!cancelled) listener.playbackEnded();
    };

    const handle = async (text: string) => {
      const listener = await listenerReady;
      const m = parseClientMessage(text);
      if (m.type === "audio") {
        counts.audioMessages++;
        for (const e of listener.push(pcmBytes(down.push(pcmSamples(m.pcm))))) {
          if (e.type === "barge-in") {
            counts.bargeIns++;
            cancelled = true;
          } else if (e.type === "end" && !replying) void answer(listener);
        }
        return;
      }
      state.received.push(m.type);
      if (m.type === "call_connect") send(callConnectResponse(sessionId, callId, m.requestId));
      else if (m.type === "ping") send(pingResponse(sessionId, callId, m.requestId));
      else if (m.type === "call_disconnect") send(callDisconnectResponse(sessionId, callId, m.requestId));
    };

    send(initializeMessage(sessionId));
    ws.on("message", (data: Buffer) => {
      chain = chain
        .then(() => handle(data.toString("utf8")))
        .catch((err: unknown) => state.faults.push((err as Error).message));
    });
    ws.on("close", () => {
      cancelled = true;
      void listenerReady.then((l) => l.free());
    });
  };

  const peer = await startHttpPeer({
    authorize: (req: IncomingMessage) => {
      const url = new URL(req.url ?? "/", "http://peer");
      if (url.pathname !== SESAME_PATH) return 404;
      try {
        return parseConnectQuery(url.searchParams).idToken === SESAME_TOKEN ? undefined : 401;
      } catch {
        return 401;
      }
    },
    onConnection,
    onRequest: (_req, res) => res.writeHead(404).end(),
  });
  return {
    url: `ws://127.0.0.1:${peer.port}`,
    ...state,
    get audioMessages() {
      return counts.audioMessages;
    },
    get turns() {
      return counts.turns;
    },
    get bargeIns() {
      return counts.bargeIns;
    },
    close: () => peer.close(),
  };
}
