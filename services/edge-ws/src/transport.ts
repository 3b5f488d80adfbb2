import type { WebSocket } from "ws";

/** Why the server closes a connection; each transport says it its own way. */
export type CloseReason =
  | "normal"
  | "protocol"
  | "policy"
  | "internal"
  | "restart"
  | "replaced"
  | "unauthorized"
  | "no_handshake";

/** The WebSocket close code of each reason, also the code disconnect events carry. */
export const CLOSE_CODES: Record<CloseReason, number> = {
  normal: 1000,
  protocol: 1002,
  policy: 1008,
  internal: 1011,
  restart: 1012,
  replaced: 4001,
  unauthorized: 4003,
  no_handshake: 4008,
};

/**
 * What a dialect needs from a connection (WebSocket here, raw TCP in tcp-transport.ts): text and
 * binary out, a count of bytes not yet written, a semantic close and its end.
 */
export interface Transport {
  sendText(text: string): void;
  sendBinary(data: Buffer): void;
  /** Bytes queued but not yet handed to the kernel. */
  readonly bufferedAmount: number;
  /** Resolves once everything queued so far is written (or the transport closed). */
  flushed(): Promise<void>;
  readonly open: boolean;
  close(reason: CloseReason, text: string): void;
  /** Resolves once the connection has ended, whoever ended it. */
  closed(): Promise<void>;
  readonly remoteAddress: string;
}

export class WsTransport implements Transport {
  private readonly ended: Promise<void>;

  constructor(
    private readonly ws: WebSocket,
    readonly remoteAddress: string,
  ) {
    this.ended = new Promise((resolve) => ws.once("close", () => resolve()));
  }

  get open(): boolean {
    return this.ws.readyState === this.ws.OPEN;
  }

  get bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }

  sendText(text: string): void {
    if (this.open) this.ws.send(text);
  }

  sendBinary(data: Buffer): void {
    if (this.open) this.ws.send(data, { binary: true });
  }

  flushed(): Promise<void> {
    if (!this.open) return Promise.resolve();
    // ws calls back once this (empty) frame and all before it are written to the socket.
    return new Promise((resolve) => this.ws.ping(undefined, undefined, () => resolve()));
  }

  close(reason: CloseReason, text: string): void {
    if (this.ws.readyState === this.ws.OPEN || this.ws.readyState === this.ws.CONNECTING) {
      this.ws.close(CLOSE_CODES[reason], text);
    }
  }

  closed(): Promise<void> {
    return this.ws.readyState === this.ws.CLOSED ? Promise.resolve() : this.ended;
  }
}
