import { useEffect, useRef } from "preact/hooks";
import type { LiveMessage } from "../../src/api-types";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Called when any request finds the operator signed out (expired or revoked session). */
let onSignedOut: () => void = () => {};
export function whenSignedOut(fn: () => void): void {
  onSignedOut = fn;
}

/** One API call; the session cookie (HttpOnly) goes with it, nothing else carries the operator's identity. */
export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(path, {
    method,
    credentials: "same-origin",
    headers: body === undefined ? {} : { "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  const data = text ? (JSON.parse(text) as unknown) : undefined;
  if (!res.ok) {
    const e = (data ?? {}) as { error?: string; message?: string };
    if (res.status === 401 && path !== "/api/session") onSignedOut();
    throw new ApiError(res.status, e.error ?? "http_error", e.message ?? `HTTP ${res.status}`);
  }
  return data as T;
}

/** Server-sent events from /api/live while the component is mounted; EventSource reconnects by itself. */
export function useLive(onMessage: (m: LiveMessage) => void, device?: string): void {
  const handler = useRef(onMessage);
  handler.current = onMessage;
  useEffect(() => {
    const source = new EventSource(device ? `/api/live?device=${encodeURIComponent(device)}` : "/api/live");
    source.onmessage = (e) => handler.current(JSON.parse(e.data as string) as LiveMessage);
    return () => source.close();
  }, [device]);
}

export function ago(ms: number, now = Date.now()): string {
  if (!ms) return "—";
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return new Date(ms).toLocaleDateString();
}

export function ms(v: number | null | undefined): string {
  if (v === null || v === undefined) return "—";
  return v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${Math.round(v)} ms`;
}

export function clock(t: number): string {
  return new Date(t).toLocaleTimeString([], { hour12: false });
}
