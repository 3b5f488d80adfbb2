import type { Socket } from "node:net";
import {
  ABNORMAL_CLOSE,
  CLOSE_CODES,
  type CloseReason,
  type Closure,
  type MessageHandler,
  type Transport,
} from "./transport";

/**
 * A raw TCP connection as a transport (DAP1): bytes in and out, the socket's own write buffer as
 * backpressure. TCP has no message boundaries: every chunk arrives as binary and the dialect
 * frames its own packets; text is written as UTF-8 bytes. TCP carries no close code: the
 * connection ends with the code of the server's own close, or 1006 when the client went first.
 */
export class TcpTransport implements Transport {
  /** The code of the server's own close, if it closed first. */
  private closeCode: number | undefined;
  private readonly ended: Promise<Closure>;

  constructor(
    private readonly socket: Socket,
    readonly remoteAddress: string,
  ) {
    this.ended = new Promise((resolve) =>
      socket.once("close", () =>
        resolve(
          this.closeCode === undefined
            ? { code: ABNORMAL_CLOSE, reason: "client closed the connection" }
            : { code: this.closeCode, reason: "" },
        ),
      ),
    );
  }

  onMessage(handler: MessageHandler): void {
    this.socket.on("data", (chunk: Buffer) => handler(chunk, true));
  }

  get open(): boolean {
    return !this.socket.destroyed && this.socket.writable;
  }

  get bufferedAmount(): number {
    return this.socket.writableLength;
  }

  sendText(text: string): void {
    if (this.open) this.socket.write(text);
  }

  sendBinary(data: Buffer): void {
    if (this.open) this.socket.write(data);
  }

  flushed(): Promise<void> {
    if (!this.open || this.socket.writableLength === 0) return Promise.resolve();
    return new Promise((resolve) => this.socket.write(Buffer.alloc(0), () => resolve()));
  }

  /** A normal close lets what is queued go out first; any other drops the connection. */
  close(reason: CloseReason, _text: string): void {
    if (this.socket.destroyed) return;
    this.closeCode ??= CLOSE_CODES[reason];
    if (reason === "normal") this.socket.end();
    else this.socket.destroy();
  }

  closed(): Promise<Closure> {
    return this.ended;
  }
}
