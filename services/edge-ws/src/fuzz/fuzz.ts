import { connect as tcpConnect } from "node:net";
import { WebSocket } from "ws";

/** Every code a refusal may carry; anything else (or none) is a finding. */
const PROTOCOL_CODES = new Set([
  "bad_json",
  "unknown_type",
  "bad_message",
  "bad_device_id",
  "bad_chunk",
  "binary_without_meta",
  "meta_without_binary",
  "illegal_state",
  "rate_limited",
  "recording_too_long",
  "disk_quota",
  "unauthorized",
  "replaced",
  "stt_failed",
  "llm_failed",
  "llm_unconfigured",
  "tts_failed",
  "storage_failed",
  "shutting_down",
  "bad_audio",
]);
/** Close codes a refusal may end with: normal, going away, policy, too big, replaced, wrong device, no handshake. */
const CLOSE_CODES = new Set([1000, 1001, 1005, 1006, 1008, 1009, 4001, 4003, 4008]);

export interface FuzzOptions {
  /** ws://host:port of the edge (the socket is at /ws). */
  url: string;
  token: string;
  seed: number;
  framesPerDialect: number;
  /** Fuzz sockets open at once per dialect. */
  concurrency?: number;
  /** Malformed HTTP requests (multipart, headers, upgrades) to send. */
  httpRequests?: number;
}

type FuzzDialect = "firmware" | "spec" | "xiaozhi";

export interface FuzzFigures {
  frames: Record<FuzzDialect, number>;
  httpRequests: number;
  connections: number;
  refusals: Record<string, number>;
  closeCodes: Record<string, number>;
  httpStatuses: Record<string, number>;
  /** Refusals without a known code, unexpected close codes, 5xx answers: each one is a finding. */
  findings: string[];
  seconds: number;
}

/** mulberry32: a small seeded generator, so a failing run can be replayed from its seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Frame = string | Buffer;

/**
 * Opus packets as the xiaozhi firmware sends them (16 kHz mono 60 ms, docs/protocols/xiaozhi.md §4):
 * a DTX packet of silence and a voiced one's TOC byte with a random body (most do not decode).
 */
function opusLike(r: () => number): Buffer {
  if (r() < 0.3) return Buffer.from([0x40 | Math.floor(r() * 4)]);
  const b = Buffer.alloc(1 + Math.floor(r() * 120));
  for (let i = 0; i < b.length; i++) b[i] = Math.floor(r() * 256);
  b[0] = 0x78; // SILK wideband 60 ms, mono, one frame
  return b;
}

/** Well-formed traffic of each dialect (docs/protocols/hotpin-firmware.md, hotpin-spec.md, xiaozhi.md), the base to mutate. */
function recording(dialect: FuzzDialect, id: string, r: () => number): Frame[] {
  const pcm = () => {
    const b = Buffer.alloc(2 * (1 + Math.floor(r() * 2048)));
    for (let i = 0; i < b.length; i += 2) b.writeInt16LE(Math.round(3000 * Math.sin(i / 9)), i);
    return b;
  };
  if (dialect === "xiaozhi") {
    const mode = pickOne(r, ["auto", "manual", "realtime"]);
    return [
      JSON.stringify({
        type: "hello",
        version: 1,
        features: { mcp: true, aec: r() < 0.5 },
        transport: "websocket",
        audio_params: { format: "opus", sample_rate: 16_000, channels: 1, frame_duration: 60 },
      }),
      JSON.stringify({ session_id: "", type: "listen", state: "detect", text: "hey hotpin" }),
      JSON.stringify({ session_id: "", type: "listen", state: "start", mode }),
      opusLike(r),
      opusLike(r),
      opusLike(r),
      JSON.stringify({ session_id: "", type: "listen", state: "stop" }),
      JSON.stringify({ session_id: "", type: "abort", reason: "wake_word_detected" }),
      JSON.stringify({ session_id: "", type: "mcp", payload: { jsonrpc: "2.0", id: 1, result: { tools: [] } } }),
      JSON.stringify({ session_id: "", type: "iot", descriptors: [] }),
    ];
  }
  if (dialect === "firmware") {
    return [
      JSON.stringify({ session_id: id }),
      pcm(),
      pcm(),
      pcm(),
      JSON.stringify({ signal: "EOS" }),
      JSON.stringify({ signal: "RESET" }),
      JSON.stringify({ signal: "NEW_CONVERSATION" }),
    ];
  }
  const chunk = pcm();
  return [
    JSON.stringify({ type: "hello", session: id, capabilities: { max_chunk_bytes: 8000, tts_segments: r() < 0.5 } }),
    JSON.stringify({ type: "client_on" }),
    JSON.stringify({ type: "recording_started" }),
    JSON.stringify({ type: "audio_chunk_meta", seq: 1, len_bytes: chunk.length }),
    chunk,
    JSON.stringify({ type: "audio_chunk_meta", seq: 2, len: chunk.length }),
    chunk,
    JSON.stringify({ type: "recording_stopped" }),
    JSON.stringify({ type: "ready_for_playback" }),
    JSON.stringify({ type: "playback_complete" }),
    JSON.stringify({ type: "ping" }),
    JSON.stringify({ type: "image_captured" }),
    JSON.stringify({ type: "reset_conversation" }),
    JSON.stringify({ type: "reset" }),
  ];
}

const NASTY = [
  "",
  "x".repeat(4096),
  "\u0000",
  "a\u0000b",
  "\ud800",
  "💥".repeat(300),
  "../../etc/passwd",
  "hotpin.events.>",
  "*",
  " ",
  "-1",
];

/** One mutation of a frame: truncated, bytes flipped, fields retyped or oversized, or replaced. */
function mutate(frame: Frame, r: () => number, base: Frame[]): Frame[] {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
  const k = r();
  if (k < 0.25) return [frame];
  if (k < 0.35) return []; // dropped: out of order from here on
  if (k < 0.45) return [frame, frame]; // duplicated
  if (k < 0.52) return [pick(base), frame]; // interleaved with another frame
  if (typeof frame === "string") {
    if (k < 0.62) return [frame.slice(0, Math.floor(r() * frame.length))]; // truncated
    if (k < 0.72) {
      try {
        const m = JSON.parse(frame) as Record<string, unknown>;
        const key = pick([...Object.keys(m), "type", "session_id", "session", "seq", "len_bytes", "signal"]);
        m[key] = pick<unknown>([...NASTY, 0, -1, 1e308, 2 ** 53 + 1, null, true, [], {}, { a: [1, { b: 2 }] }]);
        return [JSON.stringify(m)];
      } catch {
        return [frame];
      }
    }
    if (k < 0.8) {
      const b = Buffer.from(frame);
      for (let i = 0; i < 1 + r() * 4; i++) b[Math.floor(r() * b.length)] = Math.floor(r() * 256);
      return [b.toString("latin1")];
    }
    if (k < 0.85) return [Buffer.from(frame)]; // text sent as binary
    if (k < 0.9) return [pick(['{"type":', "[]", "null", "7", '"str"', "{}", '{"type":"hello"}', "{".repeat(5000)])];
    return [frame];
  }
  if (k < 0.62) return [frame.subarray(0, Math.floor(r() * frame.length))]; // truncated (odd lengths too)
  if (k < 0.7) return [Buffer.alloc(0)];
  if (k < 0.78) return [Buffer.from(frame).fill(0xff, 0, Math.min(frame.length, 64))];
  if (k < 0.8) return [Buffer.alloc(70_000, 1)]; // over the frame limit: 1009
  if (k < 0.88) return [frame.toString("latin1")]; // binary sent as text
  return [frame];
}

function count(m: Record<string, number>, key: string): void {
  m[key] = (m[key] ?? 0) + 1;
}

/**
 * A seeded generator that mutates well-formed traffic of both dialects and sends it to a live
 * edge, and malformed HTTP (multipart, headers, upgrades) beside it. Every refusal the edge sends
 * must carry a known protocol code, every close a known close code, no HTTP answer may be 5xx
 * other than 503 (busy/unavailable); anything else is listed in `findings`.
 */
export async function fuzzEdge(opts: FuzzOptions): Promise<FuzzFigures> {
  const started = Date.now();
  const r = rng(opts.seed);
  const figures: FuzzFigures = {
    frames: { firmware: 0, spec: 0, xiaozhi: 0 },
    httpRequests: 0,
    connections: 0,
    refusals: {},
    closeCodes: {},
    httpStatuses: {},
    findings: [],
    seconds: 0,
  };
  const finding = (f: string) => {
    if (figures.findings.length < 50) figures.findings.push(f);
  };
  const concurrency = opts.concurrency ?? 8;

  const socketRun = (dialect: FuzzDialect, n: number) =>
    new Promise<void>((resolve) => {
      const id = r() < 0.1 ? pickNasty(r) : `fz-${dialect}-${n}`;
      const xiaozhi = dialect === "xiaozhi";
      const query =
        dialect === "spec" && r() < 0.3
          ? `?session=${Buffer.from(id)
              .toString("latin1")
              .replace(/[^A-Za-z0-9_-]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, "0")}`)}`
          : "";
      // xiaozhi names itself in headers (docs/protocols/xiaozhi.md §2): sometimes wrong ones.
      const headers: Record<string, string> = { authorization: `Bearer ${opts.token}` };
      if (xiaozhi) {
        const hex = (x: number) => (x & 0xff).toString(16).padStart(2, "0");
        headers["device-id"] = r() < 0.9 ? `02:00:00:00:${hex(n >> 8)}:${hex(n)}` : "";
        headers["client-id"] = r() < 0.95 ? `fz-client-${n}` : "a b";
        headers["protocol-version"] = pickOne(r, ["1", "1", "2", "3", "0", "x"]);
      }
      const path = xiaozhi ? "/xiaozhi/v1/" : `/ws${query}`;
      let ws: WebSocket;
      try {
        ws = new WebSocket(`${opts.url}${path}`, { headers });
      } catch {
        resolve(); // a header the client library itself refuses to send
        return;
      }
      figures.connections++;
      const base = recording(dialect, id, r);
      const frames = base.flatMap((f) => mutate(f, r, base));
      for (let i = 0; i < 4; i++) frames.push(...mutate(base[Math.floor(r() * base.length)] as Frame, r, base));
      ws.on("message", (data: Buffer, binary: boolean) => {
        if (binary) return;
        let m: Record<string, unknown>;
        try {
          m = JSON.parse(data.toString()) as Record<string, unknown>;
        } catch {
          finding(`non-JSON text from the edge: ${data.toString().slice(0, 80)}`);
          return;
        }
        const isError = m.type === "error" || m.status === "error";
        if (m.type === "alert" && !(m.status && m.message && m.emotion)) finding(`alert without its three fields`);
        if (!isError) return;
        const code = String(
          m.code ??
            m.error_type ??
            (m.message === "Could not understand audio. Please try again." ? "not_understood" : ""),
        );
        if (code !== "not_understood" && !PROTOCOL_CODES.has(code))
          finding(`refusal without a known code: ${JSON.stringify(m).slice(0, 120)}`);
        count(figures.refusals, code);
      });
      ws.on("unexpected-response", (_req, res) => {
        count(figures.httpStatuses, `upgrade ${res.statusCode}`);
        if ((res.statusCode ?? 0) >= 500 && res.statusCode !== 503) finding(`upgrade answered ${res.statusCode}`);
        res.resume();
        resolve();
      });
      ws.on("error", () => undefined);
      ws.on("open", () => {
        for (const f of frames) {
          if (ws.readyState !== ws.OPEN) break;
          ws.send(f, { binary: Buffer.isBuffer(f) });
          figures.frames[dialect]++;
        }
        // Then leave: politely, abruptly, or by going quiet until the edge closes.
        const leave = r();
        setTimeout(
          () => {
            if (leave < 0.5) ws.close(1000, r() < 0.2 ? "bye\u0000\u001b[2J" : "bye");
            else ws.terminate();
          },
          Math.floor(r() * 30),
        );
      });
      ws.on("close", (code) => {
        count(figures.closeCodes, String(code));
        if (!CLOSE_CODES.has(code)) finding(`closed with ${code}`);
        resolve();
      });
    });

  const dialectLoop = async (dialect: FuzzDialect) => {
    let n = 0;
    const worker = async () => {
      while (figures.frames[dialect] < opts.framesPerDialect) await socketRun(dialect, n++);
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
  };

  const httpLoop = async () => {
    const port = Number(new URL(opts.url).port);
    const total = opts.httpRequests ?? 500;
    for (let i = 0; i < total; i++) {
      const raw = malformedHttp(r, opts.token);
      figures.httpRequests++;
      const answer = await new Promise<string>((resolve) => {
        const s = tcpConnect(port, "127.0.0.1", () => s.end(raw));
        let got = "";
        s.on("data", (d) => {
          got += d.toString("latin1");
          if (got.length > 200) s.destroy();
        });
        s.on("close", () => resolve(got));
        s.on("error", () => resolve(got));
        s.setTimeout(8_000, () => s.destroy());
      });
      const status = /^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? "none";
      count(figures.httpStatuses, status);
      if (status.startsWith("5") && status !== "503") finding(`HTTP ${status} for ${JSON.stringify(raw.slice(0, 80))}`);
    }
  };

  await Promise.all([dialectLoop("firmware"), dialectLoop("spec"), dialectLoop("xiaozhi"), httpLoop()]);
  figures.seconds = (Date.now() - started) / 1000;
  return figures;
}

function pickNasty(r: () => number): string {
  return NASTY[Math.floor(r() * NASTY.length)] as string;
}

/** A malformed HTTP request: broken multipart, odd headers, bad upgrades, oversized lines. */
function malformedHttp(r: () => number, token: string): string {
  const auth = r() < 0.7 ? `Authorization: Bearer ${token}\r\n` : "";
  const part = (name: string, body: string) =>
    `--B\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${body}\r\n`;
  const bodies = [
    `${part("session", "fz-http")}--B\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n\r\n\xff\xd8\xff\xe0garbage`,
    `${part("session", "x".repeat(300))}--B--\r\n`,
    `--B\r\nContent-Disposition: form-data\r\n\r\nno name\r\n--B--\r\n`,
    "--wrong\r\n\r\n",
    `${part("session", "a b")}--B--\r\n`,
    "",
    "\u0000".repeat(100),
  ];
  const body = bodies[Math.floor(r() * bodies.length)] as string;
  const declared = r() < 0.3 ? body.length + Math.floor(r() * 1000) : r() < 0.1 ? 999_999_999 : body.length;
  const k = r();
  if (k < 0.1) {
    // xiaozhi's OTA check and activation poll (docs/protocols/xiaozhi.md §1)
    const ota = pickOne(r, [
      JSON.stringify({ application: { version: "2.0.4" } }),
      JSON.stringify({ application: { version: "x".repeat(100) } }),
      JSON.stringify({ application: "2.0.4" }),
      "{",
      "",
      JSON.stringify({ application: { version: "2.0.4" }, board: { type: "\u0000" } }),
    ]);
    const id = pickOne(r, ["02:00:00:00:99:01", "", "a b", "x".repeat(300)]);
    return `POST /xiaozhi/ota/${r() < 0.3 ? "activate" : ""} HTTP/1.1\r\nHost: ${pickOne(r, ["e", "e:1", "bad host/x"])}\r\nDevice-Id: ${id}\r\nClient-Id: fz\r\nContent-Type: application/json\r\nContent-Length: ${r() < 0.2 ? ota.length + 9 : ota.length}\r\n\r\n${ota}`;
  }
  if (k < 0.45) {
    const type =
      r() < 0.8 ? "multipart/form-data; boundary=B" : pickOne(r, ["multipart/form-data", "image/jpeg", "x/\u0000"]);
    return `POST /image${r() < 0.3 ? "?session=fz-http" : ""} HTTP/1.1\r\nHost: e\r\n${auth}Content-Type: ${type}\r\nContent-Length: ${declared}\r\n\r\n${body}`;
  }
  if (k < 0.6)
    return `GET /download/${pickOne(r, ["x", "a".repeat(43), "%00", "../../x", "a".repeat(5000)])} HTTP/1.1\r\nHost: e\r\n\r\n`;
  if (k < 0.75) {
    return `GET /ws?session=${pickOne(r, ["a", "%00", "x".repeat(200)])} HTTP/1.1\r\nHost: e\r\n${auth}Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: ${pickOne(r, ["13", "8", "x"])}\r\nSec-WebSocket-Key: ${pickOne(r, ["dGhlIHNhbXBsZSBub25jZQ==", "short", ""])}\r\n\r\n`;
  }
  if (k < 0.85)
    return `GET /events?device=${pickOne(r, ["a", "x".repeat(300), "a,b,c"])} HTTP/1.1\r\nHost: e\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`;
  if (k < 0.92) return `GET / HTTP/1.1\r\nHost: e\r\nX-Big: ${"h".repeat(20_000)}\r\n\r\n`;
  return pickOne(r, [
    "GARBAGE\r\n\r\n",
    "GET\r\n\r\n",
    "POST /image HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    "\u0000\u0001\u0002",
  ]);
}

function pickOne<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)] as T;
}
