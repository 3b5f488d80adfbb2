import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { type WebSocket, WebSocketServer } from "ws";

export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const p of req) parts.push(p as Buffer);
  return Buffer.concat(parts);
}

export interface HttpPeer {
  server: Server;
  wss: WebSocketServer;
  port: number;
  close(): Promise<void>;
}

/**
 * A loopback HTTP server with a WebSocket endpoint, for the test peers. `authorize` decides the
 * upgrade (a status code refuses it before the handshake, as the edge does).
 */
export async function startHttpPeer(handlers: {
  authorize(req: IncomingMessage): number | undefined;
  onConnection(ws: WebSocket, req: IncomingMessage): void;
  onRequest(req: IncomingMessage, res: ServerResponse): void;
}): Promise<HttpPeer> {
  const wss = new WebSocketServer({ noServer: true, maxPayload: 1 << 20 });
  const server = createServer((req, res) => handlers.onRequest(req, res));
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const refused = handlers.authorize(req);
    if (refused !== undefined) {
      socket.end(`HTTP/1.1 ${refused} Refused\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => handlers.onConnection(ws, req));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    server,
    wss,
    port: (server.address() as AddressInfo).port,
    close: async () => {
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export function bearer(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  return h?.startsWith("Bearer ") ? h.slice(7) : undefined;
}
