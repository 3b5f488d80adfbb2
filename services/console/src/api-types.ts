// The console's HTTP API as the browser sees it: shared by the server and the front end.

export interface DeviceView {
  deviceId: string;
  /** Connected to an edge replica now (per the ownership KV). */
  connected: boolean;
  /** The edge replica holding the device's connection, or the last one that did. */
  replica: string;
  sessionId: string;
  dialect: string;
  /** The session state the edge reports (idle, recording, processing, playing, …). */
  state: string;
  /** Epoch ms of the device's last event. */
  lastActivity: number;
  /** Epoch ms when it connected. */
  since: number;
  utterances: number;
}

export interface FleetCounts {
  connected: number;
  /** Connected devices per edge replica. */
  replicas: Record<string, number>;
  /** Connected devices per state. */
  states: Record<string, number>;
}

export interface FleetSnapshot {
  devices: DeviceView[];
  counts: FleetCounts;
}

/** One event of a device's live timeline, in the /events observer shape (snake_case fields). */
export interface TimelineEntry {
  id: string;
  /** connected, disconnected, transcription, llm_text, rerecord, error, … */
  event: string;
  time: number;
  fields: Record<string, unknown>;
  /** Thumbnail blob of an image the device uploaded (image_received). */
  thumbnailBlobId?: string;
}

/** One utterance's timings, from the event stream (end of speech = recording_stopped). */
export interface TurnLatency {
  utterance: number;
  sessionId: string;
  /** Epoch ms of the end of speech. */
  at: number;
  /** End of speech → final transcript. */
  sttMs?: number;
  /** Final transcript → the whole answer written. */
  llmMs?: number;
  /** End of speech → the reply finished sending. */
  replyMs?: number;
  hadImage: boolean;
  thumbnailBlobId?: string;
  outcome: "replied" | "rerecord" | "error" | "pending";
}

export interface DeviceDetail {
  device: DeviceView | undefined;
  timeline: TimelineEntry[];
  turns: TurnLatency[];
}

export interface StoredTurn {
  role: "user" | "assistant";
  text: string;
  time: number;
  sessionId: string;
  hadImage: boolean;
  /** The thumbnail of the last image the console saw the device upload before this turn. */
  thumbnailBlobId?: string;
}

export interface StoredSession {
  id: string;
  dialect: string;
  replica: string;
  startedAt: number;
  endedAt?: number;
  status: string;
}

export interface DeviceHistory {
  turns: StoredTurn[];
  sessions: StoredSession[];
}

/** One chart point: quantiles over the window ending at `t`, in milliseconds; null without replies. */
export interface LatencyPoint {
  t: number;
  replies: number;
  firstAudioP50: number | null;
  firstAudioP95: number | null;
  /** Median time each stage adds: STT final, LLM first sentence, TTS first chunk, edge until first byte. */
  sttMs: number | null;
  llmMs: number | null;
  ttsMs: number | null;
  edgeMs: number | null;
}

export interface LatencySeries {
  windowMs: number;
  points: LatencyPoint[];
  /** Edge metrics endpoints that could not be read at the last scrape. */
  unreachable: string[];
}

export type CommandName = "say" | "rerecord" | "disconnect" | "reset" | "state";

export interface CommandRequest {
  command: CommandName;
  text?: string;
}

export interface CommandResult {
  ok: boolean;
  /** busy, not_connected, timeout, bad_request, … */
  error?: string;
  message: string;
  state?: { replica: string; dialect: string; state: string; utterances: number };
}

export interface IssuedToken {
  deviceId: string;
  token: string;
  /** Epoch ms. */
  expiresAt: number;
  /** The spec dialect's socket URL for this device (token as a query parameter, as devices do). */
  wsUrl: string;
}

/** A code a xiaozhi device reads out, waiting for an operator (the challenge stays with the edge). */
export interface PendingCodeView {
  code: string;
  deviceId: string;
  expiresAt: number;
}

/** A xiaozhi device an operator bound: by its code, or pre-registered by id. */
export interface BoundDeviceView {
  deviceId: string;
  boundAt: number;
  by: "code" | "register";
  /** Tied to one board's client id (a pre-registered device is pinned at its first OTA check). */
  pinned: boolean;
  connected: boolean;
  lastActivity?: number;
}

export type XiaozhiActivationInfo =
  | { available: true; pendingCodes: PendingCodeView[]; bound: BoundDeviceView[]; truncated: boolean }
  | { available: false; reason: string };

export interface ActivationInfo {
  preregistered: { deviceId: string; connected: boolean; lastActivity?: number }[];
  /** The xiaozhi OTA flow's codes and bindings (NATS KV kept by the edge). */
  xiaozhi: XiaozhiActivationInfo;
  canIssue: boolean;
  tokenTtlSec: number;
}

export interface ConsoleInfo {
  edgeWsUrl: string;
  canIssue: boolean;
}

/** Server-sent events on /api/live. */
export type LiveMessage =
  | { type: "device"; device: DeviceView }
  | { type: "counts"; counts: FleetCounts }
  | { type: "timeline"; deviceId: string; entry: TimelineEntry }
  | { type: "turn"; deviceId: string; turn: TurnLatency }
  | { type: "latency"; point: LatencyPoint; unreachable: string[] }
  /** The xiaozhi codes or bindings changed: GET /api/activation again. */
  | { type: "activation" };
