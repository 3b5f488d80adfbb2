import { toWav } from "@hotpin/audio";
import type { WebSocket } from "ws";
import { bearer, readBody, startHttpPeer } from "./http-peer";
import { tonePcm } from "./tone";

/**
 * The server side of the firmware dialect as docs/protocols/hotpin-firmware.md describes it, for tests only:
 * connected on {"session_id"}, an ACK after every 2nd chunk, the processing stages, the reply WAV
 * in 4096-byte frames, the zero-length frame, complete. Knobs break it in the ways the simulator
 * must notice.
 */
export interface FirmwarePeerOptions {
  token?: string;
  /** ACK after every n-th chunk; 0 never ACKs. Default 2. */
  ackEvery?: number;
  /** Hold each ACK this long, so a device that does not block would run ahead. */
  ackDelayMs?: number;
  replyPcm?: Buffer;
  /** Rewrites the reply WAV before it is sent (to break it). */
  mangleWav?: (wav: Buffer) => Buffer;
  notUnderstood?: boolean;
  /** Never answer EOS. */
  silentAfterEos?: boolean;
  /** Terminate connection number `connection` (1-based) after it received `chunks` chunks. */
  dropAfter?: { connection: number; chunks: number };
}

export interface Utterance {
  chunks: number;
  bytes: number;
  /** Most chunks received beyond the last ACK sent, at any chunk's arrival. */
  maxInFlight: number;
}

export interface FirmwarePeer {
  url: string;
  upgrades: number;
  sessions: string[];
  utterances: Utterance[];
  images: { session: string; filename: string; type: string; bytes: number; auth?: string }[];
  replyWav: Buffer;
  close(): Promise<void>;
}

export const TRANSCRIPT = "go forward ten meters";
export const RESPONSE = "Going forward ten meters.";

export async function startFirmwarePeer(o: FirmwarePeerOptions = {}): Promise<FirmwarePeer> {
  const token = o.token ?? "secret-token";
  const ackEvery = o.ackEvery ?? 2;
  const wav = toWav(o.replyPcm ?? tonePcm(600));
  const sent = o.mangleWav ? o.mangleWav(wav) : wav;
  let connections = 0;
  const peer: Omit<FirmwarePeer, "url" | "close"> = {
    upgrades: 0,
    sessions: [],
    utterances: [],
    images: [],
    replyWav: wav,
  };

  const onConnection = (ws: WebSocket) => {
    const connection = ++connections;
    let chunks = 0;
    let bytes = 0;
    let acked = 0;
    let maxInFlight = 0;
    const send = (m: object) => ws.send(JSON.stringify(m));
    ws.on("message", (data: Buffer, isBinary) => {
      if (isBinary) {
        chunks++;
        bytes += data.length;
        maxInFlight = Math.max(maxInFlight, chunks - acked);
        if (o.dropAfter?.connection === connection && chunks === o.dropAfter.chunks) {
          ws.terminate();
          return;
        }
        if (ackEvery > 0 && chunks % ackEvery === 0) {
          const n = chunks;
          const b = bytes;
          const ack = () => {
            acked = Math.max(acked, n);
            send({ status: "receiving", chunks_received: n, bytes_received: b });
          };
          if (o.ackDelayMs) setTimeout(ack, o.ackDelayMs);
          else ack();
        }
        return;
      }
      const msg = JSON.parse(data.toString());
      if (typeof msg.session_id === "string") {
        peer.sessions.push(msg.session_id);
        send({ status: "connected", session_id: msg.session_id });
      } else if (msg.signal === "EOS") {
        peer.utterances.push({ chunks, bytes, maxInFlight });
        chunks = bytes = acked = maxInFlight = 0;
        if (o.silentAfterEos) return;
        send({ status: "processing", stage: "transcription" });
        if (o.notUnderstood) {
          send({ status: "error", message: "Could not understand audio. Please try again." });
          return;
        }
        send({ status: "processing", stage: "llm", transcript: TRANSCRIPT, has_image: peer.images.length > 0 });
        send({ status: "processing", stage: "tts", response: RESPONSE });
        for (let off = 0; off < sent.length; off += 4096) ws.send(sent.subarray(off, off + 4096));
        ws.send(Buffer.alloc(0));
        send({ status: "complete" });
      }
    });
  };

  const http = await startHttpPeer({
    authorize: (req) => {
      peer.upgrades++;
      if (new URL(req.url ?? "/", "http://x").pathname !== "/ws") return 404;
      return bearer(req) === token ? undefined : 401;
    },
    onConnection,
    onRequest: async (req, res) => {
      if (req.method !== "POST" || req.url !== "/image") return res.writeHead(404).end();
      const body = await readBody(req);
      const form = await new Response(body, {
        headers: { "content-type": req.headers["content-type"] ?? "" },
      }).formData();
      const file = form.get("file");
      if (!(file instanceof File)) return res.writeHead(400).end();
      peer.images.push({
        session: String(form.get("session")),
        filename: file.name,
        type: file.type,
        bytes: file.size,
        ...(req.headers.authorization ? { auth: req.headers.authorization } : {}),
      });
      res.writeHead(200, { "content-type": "application/json" }).end('{"status":"ok"}');
    },
  });
  return Object.assign(peer, { url: `ws://127.0.0.1:${http.port}`, close: http.close });
}
