/** What went wrong, in the categories a caller (CLI exit code, fleet summary, retry loop) cares about. */
export type SimErrorKind = "protocol" | "timeout" | "auth" | "connection" | "http" | "input";

export class SimError extends Error {
  override name = "SimError";
  constructor(
    readonly kind: SimErrorKind,
    message: string,
    /** Whether reconnecting and starting the exchange again can help. */
    readonly retryable = false,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** The server broke the protocol: a message illegal in the current state, bad JSON, a WAV with wrong sizes. */
export class ProtocolError extends SimError {
  override name = "ProtocolError";
  constructor(message: string, options?: ErrorOptions) {
    super("protocol", message, false, options);
  }
}

/** The server said nothing within the time a real device waits. */
export class ServerTimeoutError extends SimError {
  override name = "ServerTimeoutError";
  constructor(message: string) {
    super("timeout", message);
  }
}

/** 401/403 on the upgrade or an HTTP call: the device stops retrying, as the real clients do. */
export class AuthRejectedError extends SimError {
  override name = "AuthRejectedError";
  constructor(readonly status: number) {
    super("auth", `server rejected the token (HTTP ${status})`);
  }
}

/** The connection failed or dropped before the exchange finished; the device reconnects. */
export class ConnectionDroppedError extends SimError {
  override name = "ConnectionDroppedError";
  constructor(message: string, options?: ErrorOptions) {
    super("connection", message, true, options);
  }
}

export interface ErrorInfo {
  kind: SimErrorKind;
  message: string;
}

export function errorInfo(err: unknown): ErrorInfo {
  if (err instanceof SimError) return { kind: err.kind, message: err.message };
  return { kind: "input", message: err instanceof Error ? err.message : String(err) };
}
