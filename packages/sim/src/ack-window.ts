import { ProtocolError } from "./errors";

/**
 * The device's view of chunk acknowledgements for one utterance: how many chunks it sent, how many
 * the server says it received, and how long each ACK took (from sending the chunk that completed
 * the acknowledged count to the ACK's arrival).
 */
export class AckWindow {
  private readonly sentAt: number[] = [];
  private ackedCount = 0;
  readonly latenciesMs: number[] = [];

  get sent(): number {
    return this.sentAt.length;
  }

  get acked(): number {
    return this.ackedCount;
  }

  get unacked(): number {
    return this.sentAt.length - this.ackedCount;
  }

  onSent(at: number): void {
    this.sentAt.push(at);
  }

  /** Records "the server has received `count` chunks", as read at time `at`. */
  onAck(count: number, at: number): void {
    if (!Number.isInteger(count) || count < 0)
      throw new ProtocolError(`ACK count is not a non-negative integer: ${count}`);
    if (count > this.sentAt.length) {
      throw new ProtocolError(`server acknowledged ${count} chunks but only ${this.sentAt.length} were sent`);
    }
    if (count < this.ackedCount) {
      throw new ProtocolError(`ACK count went backwards from ${this.ackedCount} to ${count}`);
    }
    if (count > this.ackedCount && count > 0) this.latenciesMs.push(at - this.sentAt[count - 1]!);
    this.ackedCount = count;
  }
}
