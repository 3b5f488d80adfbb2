import type { WebSocket } from "ws";

/**
 * What a dialect needs from a connection. WebSocket today; a raw TCP transport (DAP1) fits the
 * same shape: framed text/binary out, a count of bytes not yet written, close.
 */
export interface Transport {
  sendText(text: string): void;
  sendBinary(data: Buffer): void;
  /** Bytes queued but not yet handed to the kernel. */
  readonly bufferedAmount: number;
  /** Resolves once everything queued so far is written (or the transport closed). */
  flushed(): Promise<void>;
  readonly open: boolean;
  close(code: number, reason: string): void;
  readonly remoteAddress: string;
}

export class WsTransport implements Transport {
  constructor(
    private readonly ws: WebSocket,
    readonly remoteAddress: string,
  ) {}

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

  close(code: number, reason: string): void {
    if (this.ws.readyState === this.ws.OPEN || this.ws.readyState === this.ws.CONNECTING) this.ws.close(code, reason);
  }
}
