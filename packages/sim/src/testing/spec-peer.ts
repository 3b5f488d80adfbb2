import { pcmDurationMs, toWav } from "@hotpin/audio";
import type { WebSocket } from "ws";
import { bearer, readBody, startHttpPeer } from "./http-peer";
import { tonePcm } from "./tone";

/**
 * The server side of the spec dialect (docs/protocols/hotpin-spec.md), for tests only: ready,
 * an ack every 2 chunks, partial/transcript/llm, tts_ready then pull playback (tts_chunk_meta +
 * binary, tts_done), offer_download when the device does not ask for playback, re-record and
 * intervention requests when scripted, pong.
 */
export type Take = "answer" | "rerecord" | "intervention";

export interface SpecPeerOptions {
  token?: string;
  /** What the server does after each recording_stopped; after the script runs out, "answer". */
  takes?: Take[];
  /** How long to wait for ready_for_playback before offering a download. Default 300 ms. */
  playbackWaitMs?: number;
  replyPcm?: Buffer;
}

export interface Recording {
  chunks: number;
  bytes: number;
  maxInFlight: number;
  /** Anything the peer found wrong in what the device sent. */
  faults: string[];
}

export interface SpecPeer {
  url: string;
  upgrades: number;
  hellos: Record<string, unknown>[];
  recordings: Recording[];
  received: string[];
  images: { session: string; type: string; bytes: number }[];
  downloads: number;
  replyWav: Buffer;
  close(): Promise<void>;
}

export const SPEC_TRANSCRIPT = "what time is it";
export const SPEC_RESPONSE = "It is noon.";

export async function startSpecPeer(o: SpecPeerOptions = {}): Promise<SpecPeer> {
  const token = o.token ?? "spec-token";
  const takes = [...(o.takes ?? [])];
  const pcm = o.replyPcm ?? tonePcm(700);
  const wav = toWav(pcm);
  // With hello's tts_segments capability the reply comes as two WAVs, each with its own tts_ready.
  const half = Math.floor(pcm.length / 4) * 2;
  const segmentWavs = [toWav(pcm.subarray(0, half)), toWav(pcm.subarray(half))];
  const peer: Omit<SpecPeer, "url" | "close"> = {
    upgrades: 0,
    hellos: [],
    recordings: [],
    received: [],
    images: [],
    downloads: 0,
    replyWav: wav,
  };

  const onConnection = (ws: WebSocket) => {
    const send = (m: object) => ws.send(JSON.stringify(m));
    let rec: Recording | undefined;
    let acked = 0;
    let expect: { seq: number; len: number } | undefined;
    let playbackTimer: NodeJS.Timeout | undefined;
    let awaitingPlayback = false;
    let segmented = false;
    send({ type: "ready" });
    const stream = () => {
      let seq = 1;
      const sendWav = (w: Buffer) => {
        for (let off = 0; off < w.length; off += 4096) {
          const part = w.subarray(off, off + 4096);
          send({ type: "tts_chunk_meta", seq: seq++, len_bytes: part.length });
          ws.send(part);
        }
      };
      if (segmented) {
        sendWav(segmentWavs[0]!);
        send({ type: "tts_ready", duration_ms: pcmDurationMs(segmentWavs[1]!.length - 44), segment: 1 });
        sendWav(segmentWavs[1]!);
      } else sendWav(wav);
      send({ type: "tts_done" });
    };
    ws.on("message", (data: Buffer, isBinary) => {
      if (isBinary) {
        if (!rec || !expect) {
          rec?.faults.push("binary without meta");
          return;
        }
        if (data.length !== expect.len) rec.faults.push(`len ${data.length} != ${expect.len}`);
        if (expect.seq !== rec.chunks + 1) rec.faults.push(`seq ${expect.seq} after ${rec.chunks}`);
        expect = undefined;
        rec.chunks++;
        rec.bytes += data.length;
        rec.maxInFlight = Math.max(rec.maxInFlight, rec.chunks - acked);
        if (rec.chunks % 2 === 0) {
          acked = rec.chunks;
          send({ type: "ack", ref: "chunk", seq: rec.chunks });
        }
        return;
      }
      const msg = JSON.parse(data.toString());
      peer.received.push(msg.type);
      if (expect) rec?.faults.push(`${msg.type} between meta and binary`);
      switch (msg.type) {
        case "hello":
          peer.hellos.push(msg);
          segmented = msg.capabilities?.tts_segments === true;
          break;
        case "ping":
          send({ type: "pong" });
          break;
        case "image_captured":
          break;
        case "recording_started":
          rec = { chunks: 0, bytes: 0, maxInFlight: 0, faults: [] };
          acked = 0;
          break;
        case "audio_chunk_meta":
          expect = { seq: msg.seq, len: msg.len_bytes ?? msg.len };
          break;
        case "recording_stopped": {
          if (rec) peer.recordings.push(rec);
          rec = undefined;
          const take = takes.shift() ?? "answer";
          if (take === "rerecord") {
            send({ type: "request_rerecord", reason: "Empty transcript" });
            break;
          }
          if (take === "intervention") {
            send({ type: "request_user_intervention", message: "Too many re-recording attempts" });
            break;
          }
          send({ type: "state_sync", server_state: "processing", message: "Processing your request" });
          send({ type: "partial", text: "what time", stable: false });
          send({ type: "transcript", text: SPEC_TRANSCRIPT, final: true });
          send({ type: "llm", text: SPEC_RESPONSE });
          send({
            type: "tts_ready",
            duration_ms: pcmDurationMs((segmented ? segmentWavs[0]! : wav).length - 44),
            sampleRate: 16000,
            format: "wav",
            ...(segmented ? { segment: 0 } : {}),
          });
          awaitingPlayback = true;
          playbackTimer = setTimeout(() => {
            awaitingPlayback = false;
            send({ type: "offer_download", url: "/download/tok123" });
          }, o.playbackWaitMs ?? 300);
          break;
        }
        case "ready_for_playback":
          if (!awaitingPlayback) break;
          awaitingPlayback = false;
          clearTimeout(playbackTimer);
          stream();
          break;
        case "playback_complete":
          send({ type: "state_sync", server_state: "idle", message: "Ready" });
          break;
        default:
          send({ type: "error", code: "unknown_type", message: `unknown type ${msg.type}` });
      }
    });
    ws.on("close", () => clearTimeout(playbackTimer));
  };

  const http = await startHttpPeer({
    authorize: (req) => {
      peer.upgrades++;
      const url = new URL(req.url ?? "/", "http://x");
      if (url.pathname !== "/ws" || !url.searchParams.get("session")) return 400;
      return url.searchParams.get("token") === token ? undefined : 401;
    },
    onConnection,
    onRequest: async (req, res) => {
      const url = new URL(req.url ?? "/", "http://x");
      if (bearer(req) !== token) return res.writeHead(401).end();
      if (req.method === "GET" && url.pathname === "/download/tok123") {
        peer.downloads++;
        return res.writeHead(200, { "content-type": "audio/wav" }).end(wav);
      }
      if (req.method === "POST" && url.pathname === "/image") {
        const body = await readBody(req);
        peer.images.push({
          session: url.searchParams.get("session") ?? "",
          type: req.headers["content-type"] ?? "",
          bytes: body.length,
        });
        return res.writeHead(200).end();
      }
      res.writeHead(404).end();
    },
  });
  return Object.assign(peer, { url: `ws://127.0.0.1:${http.port}`, close: http.close });
}
