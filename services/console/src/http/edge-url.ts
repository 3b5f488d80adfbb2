/** The edge's device socket as a browser on this page reaches it: configured, or this host at the edge's port. */
export function edgeSocketUrl(configured: string, edgePort: number, hostHeader: string | undefined): string {
  if (configured) return configured;
  const host = (hostHeader ?? "127.0.0.1").replace(/:\d+$/, "");
  return `ws://${host}:${edgePort}/ws`;
}

/**
 * The console's pages may load only its own files; sockets go to the edge (another origin) and
 * reply audio offered as a download comes from the edge's HTTP side.
 */
export function securityHeaders(edgeWs: string): Record<string, string> {
  const ws = new URL(edgeWs);
  const http = `${ws.protocol === "wss:" ? "https:" : "http:"}//${ws.host}`;
  return {
    "content-security-policy": [
      "default-src 'self'",
      `connect-src 'self' ${ws.protocol}//${ws.host}`,
      "img-src 'self' data:",
      `media-src 'self' blob: ${http}`,
      "style-src 'self'",
      "object-src 'none'",
      "base-uri 'none'",
      "frame-ancestors 'none'",
      "form-action 'self'",
    ].join("; "),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "permissions-policy": "microphone=(self), camera=()",
  };
}
