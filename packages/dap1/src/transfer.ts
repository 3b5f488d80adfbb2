import { encodePacket, MAX_CHUNK_BYTES, type Packet, PacketType } from "./framing";

/** What a receiver answers to one chunk. */
export type ChunkVerdict =
  /** A new chunk in order: keep `payload`; `end` when it was DATA_END. */
  | { answer: "ack"; payload: Buffer; end: boolean }
  /** The chunk acknowledged last, sent again because our ACK was lost: ACK it, keep nothing. */
  | { answer: "ack-again" }
  /** Bad checksum or a sequence number out of order: NACK, the sender tries again. */
  | { answer: "nack" };

/**
 * The receiving half of one DAP1 message, without I/O: which chunk comes next and what each
 * arriving chunk gets (docs/protocols/dap1.md "Transfers").
 */
export class ChunkReceiver {
  private expected = 0;
  nacks = 0;

  accept(p: Packet): ChunkVerdict {
    if (p.checksumOk && this.expected > 0 && p.seq === ((this.expected - 1) & 0xffff)) return { answer: "ack-again" };
    if (!p.checksumOk || p.seq !== (this.expected & 0xffff)) {
      this.nacks++;
      return { answer: "nack" };
    }
    this.expected++;
    return { answer: "ack", payload: p.payload, end: p.type === PacketType.DATA_END };
  }
}

export interface ChunkSendOptions {
  /** How long to wait for the answer to one chunk before sending it again. */
  ackTimeoutMs: number;
  /** Tries per chunk (the DAWN client makes 5). */
  attempts: number;
  chunkBytes?: number;
  /** Told just before the last chunk (DATA_END) goes out. */
  beforeLast?: () => Promise<void>;
  signal?: AbortSignal;
}

/** The wait before retry n (n ≥ 1) of a chunk, as the DAWN client backs off: 200, 400, 800, 1600 ms. */
export function retryDelayMs(attempt: number): number {
  return Math.min(100 * 2 ** attempt, 2_000);
}

/**
 * Sends one message as DATA chunks and a closing DATA_END, each sent again on a NACK or no
 * answer, until `attempts` are used up. `answer` resolves with the peer's ACK or NACK, or
 * undefined after the timeout. Returns the payload bytes acknowledged; fewer than the message
 * means the peer gave up, went away or `signal` aborted.
 */
export async function sendChunks(
  message: Buffer,
  write: (packet: Buffer) => void,
  answer: (timeoutMs: number) => Promise<Packet | undefined>,
  options: ChunkSendOptions,
): Promise<number> {
  const size = options.chunkBytes ?? MAX_CHUNK_BYTES;
  const count = Math.max(1, Math.ceil(message.length / size));
  let acked = 0;
  for (let i = 0; i < count; i++) {
    const last = i === count - 1;
    const chunk = message.subarray(i * size, (i + 1) * size);
    if (last) await options.beforeLast?.();
    const packet = encodePacket(last ? PacketType.DATA_END : PacketType.DATA, chunk, i);
    let ok = false;
    for (let attempt = 0; attempt < options.attempts && !ok; attempt++) {
      if (options.signal?.aborted) return acked;
      if (attempt > 0) await new Promise((r) => setTimeout(r, retryDelayMs(attempt)));
      write(packet);
      ok = (await answer(options.ackTimeoutMs))?.type === PacketType.ACK;
    }
    if (!ok) return acked;
    acked += chunk.length;
  }
  return acked;
}
