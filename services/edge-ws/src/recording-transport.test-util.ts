import { CLOSE_CODES, type CloseReason, type Closure, type MessageHandler, type Transport } from "./transport";

/** A transport that records what a dialect sends, for tests without sockets. */
export class RecordingTransport implements Transport {
  readonly sent: (string | Buffer)[] = [];
  open = true;
  bufferedAmount = 0;
  readonly remoteAddress = "test";
  closedWith: { reason: CloseReason; text: string } | undefined;
  private handler: MessageHandler | undefined;
  private end: (closure: Closure) => void = () => {};
  private readonly ended = new Promise<Closure>((resolve) => {
    this.end = resolve;
  });

  onMessage(handler: MessageHandler): void {
    this.handler = handler;
  }
  /** The device sends a message. */
  receive(data: string | Buffer): void {
    this.handler?.(Buffer.from(data), typeof data !== "string");
  }
  sendText(text: string): void {
    this.sent.push(text);
  }
  sendBinary(data: Buffer): void {
    this.sent.push(Buffer.from(data));
  }
  flushed(): Promise<void> {
    return Promise.resolve();
  }
  close(reason: CloseReason, text: string): void {
    this.open = false;
    this.closedWith = { reason, text };
    this.end({ code: CLOSE_CODES[reason], reason: text });
  }
  closed(): Promise<Closure> {
    return this.ended;
  }
  texts(): Record<string, unknown>[] {
    return this.sent.filter((s): s is string => typeof s === "string").map((s) => JSON.parse(s));
  }
  binaries(): Buffer[] {
    return this.sent.filter((s): s is Buffer => Buffer.isBuffer(s));
  }
}
