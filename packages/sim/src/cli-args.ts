import { parseArgs } from "node:util";
import type { Pacing } from "./stream-audio";
import type { Dialect } from "./types";

export const USAGE = `Usage: hotpin-sim [options] <speech.wav|speech.raw>

Plays speech (WAV 16 kHz mono 16-bit, or raw PCM s16le 16 kHz mono) to a HotPin server as a
device, prints the protocol timeline and first-audio latency, and saves the reply.

Connection
  --url URL                 server base (default ws://127.0.0.1:8000); the device adds /ws
  --dialect firmware|spec   which device to be (default firmware)
  --dap1 HOST:PORT          be a DAWN DAP1 client over TCP instead: one WAV up, one WAV back
                            (--out, --reply-timeout-ms and --json apply; the rest do not)
  --sesame                  be the Sesame-style Pi client at --url: microphone streamed without
                            pause at 24 kHz, the server takes the turns (--token must be a device
                            JWT; --utterances, --barge-in-after-ms, --out, --json apply)
  --barge-in-after-ms MS    sesame: start the next utterance this long into each reply
  --xiaozhi OTA_URL         be a xiaozhi-esp32 device whose OTA URL is this (e.g.
                            http://127.0.0.1:8000/xiaozhi/ota/): OTA check, activation (prints the
                            code to bind), hello, Opus turns (--device-id is its MAC; --utterances,
                            --pacing, --out, --json apply)
  --xiaozhi-mode MODE       xiaozhi: auto|manual|realtime listen mode (default auto)
  --client-id UUID          xiaozhi: the board's UUID (default derived from --device-id, stable)
  --abort-after-ms MS       xiaozhi: send abort this long into each reply
  --device-id ID            session/device id (default esp32-cam-hotpin)
  --token TOKEN             device token (default $HOTPIN_SIM_TOKEN, else the firmware's
                            your_api_token_here)
  --retries N               reconnects per utterance when the connection drops (default 0);
                            backoff 1 s doubling with jitter, never after 401/403
  --backoff-cap-ms MS       longest backoff delay (default 60000)

Audio up
  --chunk-bytes N           chunk size (default 4096 firmware, 16000 spec)
  --pacing realtime|fast    realtime: a chunk leaves once it could have been captured;
                            fast: as fast as ACKs allow (default realtime)
  --chunk-pause-ms MS       pause after each chunk (default 20, the firmware's)
  --handshake-delay-ms MS   firmware: wait after "connected" before streaming (default 2000)
  --max-unacked N           block while N chunks are unacknowledged (default 2)
  --ack-timeout-ms MS       abort the stream after this long without an ACK (default 1000)
  --image FILE.jpg          upload this JPEG to POST /image before each utterance

Reply
  --out FILE.wav            save the reply WAV (several: -<device>-<n> is added to the name)
  --reply-timeout-ms MS     longest server silence while waiting (default 30000)
  --no-playback             spec: do not answer tts_ready with ready_for_playback
  --no-download             spec: do not fetch offer_download URLs
  --wait-ready              spec: wait for {"type":"ready"} before sending hello
  --capabilities JSON       spec: extra hello capabilities, e.g. '{"streaming_tts":true}'
  --ping-interval-ms MS     spec: send {"type":"ping"} this often (default never)

Fleet
  --devices N               run N devices (ids <device-id>-001…) and print a summary
  --utterances K            utterances per device, on one connection (default 1)
  --stagger-ms MS           start devices this far apart (default 100)

Output
  --quiet                   no timeline
  --json                    print the result as JSON (reply audio left out)
  -h, --help                this text

Exit status: 0 every exchange complete; 1 protocol, timeout, auth or connection failure;
2 the server answered with an error, an intervention request or an unfetched download;
64 bad usage.
`;

export class UsageError extends Error {
  override name = "UsageError";
}

export interface CliRun {
  help: false;
  input: string;
  url: string;
  dialect: Dialect;
  /** A DAP1 client to this TCP address instead of a WebSocket device. */
  dap1?: { host: string; port: number };
  /** The Sesame-style client instead of a HotPin device. */
  sesame: boolean;
  bargeInAfterMs?: number;
  /** A xiaozhi-esp32 device with this OTA URL instead of a HotPin device. */
  xiaozhi?: { otaUrl: string; mode: "auto" | "manual" | "realtime"; clientId?: string; abortAfterMs?: number };
  deviceId: string;
  token: string;
  retries: number;
  backoffCapMs?: number;
  chunkBytes?: number;
  pacing: Pacing;
  chunkPauseMs?: number;
  handshakeDelayMs?: number;
  maxUnacked?: number;
  ackTimeoutMs?: number;
  image?: string;
  out?: string;
  replyTimeoutMs?: number;
  readyForPlayback: boolean;
  fetchDownload: boolean;
  waitForReady: boolean;
  capabilities?: Record<string, unknown>;
  pingIntervalMs?: number;
  devices: number;
  utterances: number;
  staggerMs?: number;
  quiet: boolean;
  json: boolean;
}

export type CliCommand = { help: true } | CliRun;

function int(name: string, v: string | undefined, min = 0): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer ≥ ${min}, got "${v}"`);
  return n;
}

function oneOf<T extends string>(name: string, v: string | undefined, allowed: readonly T[], fallback: T): T {
  if (v === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(v))
    throw new UsageError(`--${name} must be one of ${allowed.join(", ")}`);
  return v as T;
}

export function parseCli(argv: string[], env: NodeJS.ProcessEnv = process.env): CliCommand {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values: v, positionals } = parsed;
  if (v.help) return { help: true };
  if (positionals.length !== 1) throw new UsageError("give exactly one speech file");
  let capabilities: Record<string, unknown> | undefined;
  if (v.capabilities !== undefined) {
    try {
      capabilities = JSON.parse(v.capabilities);
    } catch {
      throw new UsageError("--capabilities must be a JSON object");
    }
    if (typeof capabilities !== "object" || capabilities === null || Array.isArray(capabilities)) {
      throw new UsageError("--capabilities must be a JSON object");
    }
  }
  const dialect = oneOf("dialect", v.dialect, ["firmware", "spec"] as const, "firmware");
  let dap1: { host: string; port: number } | undefined;
  if (v.dap1 !== undefined) {
    const at = v.dap1.lastIndexOf(":");
    const port = Number(v.dap1.slice(at + 1));
    if (at <= 0 || !Number.isInteger(port) || port < 1 || port > 65_535) {
      throw new UsageError("--dap1 must be HOST:PORT, e.g. 127.0.0.1:5000");
    }
    dap1 = { host: v.dap1.slice(0, at), port };
  }
  let xiaozhi: CliRun["xiaozhi"];
  if (v.xiaozhi !== undefined) {
    if (!/^https?:\/\/./.test(v.xiaozhi))
      throw new UsageError("--xiaozhi must be the OTA URL, http(s)://…/xiaozhi/ota/");
    const abortAfterMs = int("abort-after-ms", v["abort-after-ms"], 1);
    xiaozhi = {
      otaUrl: v.xiaozhi,
      mode: oneOf("xiaozhi-mode", v["xiaozhi-mode"], ["auto", "manual", "realtime"] as const, "auto"),
      ...(v["client-id"] ? { clientId: v["client-id"] } : {}),
      ...(abortAfterMs !== undefined ? { abortAfterMs } : {}),
    };
  }
  return {
    help: false,
    input: positionals[0]!,
    ...(xiaozhi ? { xiaozhi } : {}),
    url: v.url ?? "ws://127.0.0.1:8000",
    dialect,
    ...(dap1 ? { dap1 } : {}),
    sesame: Boolean(v.sesame),
    bargeInAfterMs: int("barge-in-after-ms", v["barge-in-after-ms"], 1),
    deviceId: v["device-id"] ?? "esp32-cam-hotpin",
    token: v.token ?? env.HOTPIN_SIM_TOKEN ?? "your_api_token_here",
    retries: int("retries", v.retries) ?? 0,
    backoffCapMs: int("backoff-cap-ms", v["backoff-cap-ms"], 1),
    chunkBytes: int("chunk-bytes", v["chunk-bytes"], 2),
    pacing: oneOf("pacing", v.pacing, ["realtime", "fast"] as const, "realtime"),
    chunkPauseMs: int("chunk-pause-ms", v["chunk-pause-ms"]),
    handshakeDelayMs: int("handshake-delay-ms", v["handshake-delay-ms"]),
    maxUnacked: int("max-unacked", v["max-unacked"], 1),
    ackTimeoutMs: int("ack-timeout-ms", v["ack-timeout-ms"]),
    image: v.image,
    out: v.out,
    replyTimeoutMs: int("reply-timeout-ms", v["reply-timeout-ms"], 1),
    readyForPlayback: !v["no-playback"],
    fetchDownload: !v["no-download"],
    waitForReady: Boolean(v["wait-ready"]),
    capabilities,
    pingIntervalMs: int("ping-interval-ms", v["ping-interval-ms"]),
    devices: int("devices", v.devices, 1) ?? 1,
    utterances: int("utterances", v.utterances, 1) ?? 1,
    staggerMs: int("stagger-ms", v["stagger-ms"]),
    quiet: Boolean(v.quiet),
    json: Boolean(v.json),
  };
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      url: { type: "string" },
      dialect: { type: "string" },
      dap1: { type: "string" },
      sesame: { type: "boolean" },
      "barge-in-after-ms": { type: "string" },
      xiaozhi: { type: "string" },
      "xiaozhi-mode": { type: "string" },
      "client-id": { type: "string" },
      "abort-after-ms": { type: "string" },
      "device-id": { type: "string" },
      token: { type: "string" },
      retries: { type: "string" },
      "backoff-cap-ms": { type: "string" },
      "chunk-bytes": { type: "string" },
      pacing: { type: "string" },
      "chunk-pause-ms": { type: "string" },
      "handshake-delay-ms": { type: "string" },
      "max-unacked": { type: "string" },
      "ack-timeout-ms": { type: "string" },
      image: { type: "string" },
      out: { type: "string" },
      "reply-timeout-ms": { type: "string" },
      "no-playback": { type: "boolean" },
      "no-download": { type: "boolean" },
      "wait-ready": { type: "boolean" },
      capabilities: { type: "string" },
      "ping-interval-ms": { type: "string" },
      devices: { type: "string" },
      utterances: { type: "string" },
      "stagger-ms": { type: "string" },
      quiet: { type: "boolean" },
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
}
