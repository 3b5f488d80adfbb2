import type { CloseReason, Transport } from "./transport";

/** A transport that records what a dialect sends, for tests without sockets. */
export class RecordingTransport implements Transport {
  readonly sent: (string | Buffer)[] = [];
  open = true;
  bufferedAmount = 0;
  readonly remoteAddress = "test";
  closedWith: { reason: CloseReason; text: string } | undefined;

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
  }
  closed(): Promise<void> {
    return Promise.resolve();
  }
  texts(): Record<string, unknown>[] {
    return this.sent.filter((s): s is string => typeof s === "string").map((s) => JSON.parse(s));
  }
  binaries(): Buffer[] {
    return this.sent.filter((s): s is Buffer => Buffer.isBuffer(s));
  }
}
