import type { Generated } from "kysely";

// Times are integer epoch milliseconds in both dialects: one representation, exact ordering,
// no time zone conversions by either driver.

export interface SessionsTable {
  id: string;
  device_id: string;
  dialect: string;
  edge_instance: string;
  started_at: number;
  ended_at: number | null;
  /** storage.v1.SessionStatus */
  status: number;
  notes: string;
}

export interface LogsTable {
  id: Generated<number>;
  time: number;
  session_id: string;
  device_id: string;
  /** storage.v1.LogLevel */
  level: number;
  message: string;
  /** Event id ("evt:<id>") or caller key ("key:<key>"): a second write with the same key is ignored. */
  dedup_key: string | null;
  event_type: string | null;
}

export interface DevicesTable {
  id: string;
  first_seen_at: number;
  last_seen_at: number;
}

export interface ConversationsTable {
  device_id: string;
  /** A new id whenever the previous conversation expired or was cleared. */
  conversation_id: string;
  started_at: number;
  last_active_at: number;
}

export interface TurnsTable {
  id: Generated<number>;
  conversation_id: string;
  device_id: string;
  session_id: string;
  /** storage.v1.TurnRole */
  role: number;
  text: string;
  time: number;
  had_image: number;
  interrupted: number;
}

export interface BlobsTable {
  id: string;
  device_id: string;
  session_id: string;
  kind: string;
  content_type: string;
  size_bytes: number;
  sha256: string;
  created_at: number;
  expires_at: number;
  /** 0 while the bytes are being written, 1 once complete. */
  ready: number;
}

export interface DownloadTokensTable {
  /** SHA-256 of the token: a leaked database does not leak usable tokens. */
  token_hash: string;
  blob_id: string;
  created_at: number;
  expires_at: number;
}

export interface Database {
  sessions: SessionsTable;
  logs: LogsTable;
  devices: DevicesTable;
  conversations: ConversationsTable;
  turns: TurnsTable;
  blobs: BlobsTable;
  download_tokens: DownloadTokensTable;
}
