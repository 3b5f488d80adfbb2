import { cleanText, MAX_CLOSE_REASON_BYTES } from "@hotpin/runtime";
import type { RawData, WebSocket } from "ws";

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

/** A close without a close frame, or a TCP peer that went away. */
export const ABNORMAL_CLOSE = 1006;

/** How a connection ended, in WebSocket's vocabulary (what disconnect events carry). */
export interface Closure {
  code: number;
  /** Cleaned and bounded: the device may have chosen it. */
  reason: string;
}

/**
 * What arrives: one WebSocket message (text or binary), or one chunk of TCP bytes (binary; the
 * dialect frames its own packets). Called synchronously as the socket delivers, so nothing queues
 * here: the session's message budget bounds what a device may send.
 */
export type MessageHandler = (data: Buffer, isBinary: boolean) => void;

/**
 * A connection to one device (WebSocket here, raw TCP in tcp-transport.ts): what arrives, text
 * and binary out, a count of bytes not yet written, a semantic close and its end.
 */
export interface Transport {
  /** Takes what arrives from now on; set once, by the connection (session/connection.ts). */
  onMessage(handler: MessageHandler): void;
  sendText(text: string): void;
  sendBinary(data: Buffer): void;
  /** Bytes queued but not yet handed to the kernel. */
  readonly bufferedAmount: number;
  /** Resolves once everything queued so far is written (or the transport closed). */
  flushed(): Promise<void>;
  readonly open: boolean;
  close(reason: CloseReason, text: string): void;
  /** Resolves once the connection has ended, whoever ended it, with how it ended. */
  closed(): Promise<Closure>;
  readonly remoteAddress: string;
}

export class WsTransport implements Transport {
  private readonly ended: Promise<Closure>;

  constructor(
    private readonly ws: WebSocket,
    readonly remoteAddress: string,
    /** A close without a close frame (1006) is the device's normal hang-up (xiaozhi). */
    hangupIsNormal = false,
  ) {
    this.ended = new Promise((resolve) =>
      ws.once("close", (code, reason) =>
        resolve(
          hangupIsNormal && code === ABNORMAL_CLOSE
            ? { code: CLOSE_CODES.normal, reason: "device hung up" }
            : { code, reason: cleanText(reason.toString(), MAX_CLOSE_REASON_BYTES) },
        ),
      ),
    );
  }

  onMessage(handler: MessageHandler): void {
    // maxPayload bounds one message; the handler runs before ws reads the next.
    this.ws.on("message", (data: RawData, isBinary: boolean) => handler(data as Buffer, isBinary));
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

  closed(): Promise<Closure> {
    return this.ended;
  }
}
