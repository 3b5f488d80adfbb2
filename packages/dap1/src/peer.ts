import type { Duplex } from "node:stream";
import {
  ACK_PACKET,
  DEFAULT_READER_LIMITS,
  encodePacket,
  type FramingError,
  type FramingFault,
  MAGIC,
  MAX_CHUNK_BYTES,
  NACK_PACKET,
  type Packet,
  PacketParser,
  PacketType,
  type ReaderLimits,
} from "./framing";
import { ChunkReceiver, sendChunks } from "./transfer";

/** Why an exchange over DAP1 failed. */
export type Dap1Fault =
  | FramingFault
  | "bad-handshake"
  | "unexpected-packet"
  | "timeout"
  | "closed"
  | "too-many-retries"
  | "too-large";

export class Dap1Error extends Error {
  override name = "Dap1Error";
  constructor(
    readonly fault: Dap1Fault,
    message: string = fault,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export interface SendOptions {
  /** How long to wait for the ACK of one chunk before sending it again. */
  ackTimeoutMs?: number;
  /** Tries per chunk (the DAWN client makes 5). */
  attempts?: number;
  chunkBytes?: number;
}

export interface ReceiveOptions {
  /** Longest message accepted. */
  maxBytes: number;
  /** Longest wait for the next chunk. */
  chunkTimeoutMs?: number;
  /** Longest wait for the first chunk (the DAWN client: 30 s while the server thinks); default chunkTimeoutMs. */
  firstChunkTimeoutMs?: number;
  /** Told when the first chunk arrives. */
  onFirstChunk?: () => void;
  /** Most NACKs sent before the sender is given up on. */
  maxNacks?: number;
}

const ACK = ACK_PACKET;
const NACK = NACK_PACKET;

/**
 * One end of a DAP1 connection, client or server: the handshake, then whole messages (a WAV
 * each way) moved chunk by chunk, each chunk acknowledged before the next is sent.
 */
export class Dap1Peer {
  private readonly parser: PacketParser;
  private readonly queue: Packet[] = [];
  private failure: Dap1Error | undefined;
  private wake: (() => void) | undefined;

  constructor(
    private readonly socket: Duplex,
    limits: ReaderLimits = DEFAULT_READER_LIMITS,
  ) {
    this.parser = new PacketParser(limits);
    socket.on("data", (chunk: Buffer) => {
      if (this.failure) return;
      try {
        this.queue.push(...this.parser.push(chunk));
      } catch (err) {
        this.failure = new Dap1Error((err as FramingError).fault ?? "unexpected-packet", undefined, { cause: err });
      }
      this.wake?.();
    });
    const closed = () => {
      this.failure ??= new Dap1Error("closed", "the peer closed the connection");
      this.wake?.();
    };
    socket.once("end", closed);
    socket.once("close", closed);
    socket.once("error", (err) => {
      this.failure ??= new Dap1Error("closed", "the connection failed", { cause: err });
      this.wake?.();
    });
  }

  /** Client side: sends the handshake until it is ACKed (the DAWN client: 3 tries, 3 s apart). */
  async handshake({ attempts = 3, waitMs = 3_000 } = {}): Promise<void> {
    for (let i = 0; i < attempts; i++) {
      this.write(encodePacket(PacketType.HANDSHAKE, MAGIC));
      const reply = await this.next(waitMs).catch((err: Dap1Error) => {
        if (err.fault === "timeout") return undefined;
        throw err;
      });
      if (reply?.type === PacketType.ACK) return;
      if (reply) throw new Dap1Error("bad-handshake", `handshake answered with packet type ${reply.type}`);
    }
    throw new Dap1Error("timeout", `no handshake ACK after ${attempts} tries`);
  }

  /**
   * Server side: the first packet must be the handshake with the magic; it is ACKed. The magic is
   * the check: the protocol's published example carries a checksum other than the one DAWN's
   * client computes (docs/protocols/dap1.md), so the handshake's checksum is not enforced.
   */
  async acceptHandshake(timeoutMs: number): Promise<void> {
    const p = await this.next(timeoutMs);
    if (p.type !== PacketType.HANDSHAKE || !p.payload.equals(MAGIC)) {
      throw new Dap1Error("bad-handshake");
    }
    this.write(ACK);
  }

  /** Sends one message as DATA chunks and a closing DATA_END, waiting for each chunk's ACK. */
  async send(message: Buffer, options: SendOptions = {}): Promise<void> {
    const { ackTimeoutMs = 5_000, attempts = 5, chunkBytes = MAX_CHUNK_BYTES } = options;
    const acked = await sendChunks(
      message,
      (p) => this.write(p),
      (ms) => this.nextAnswer(ms),
      { ackTimeoutMs, attempts, chunkBytes },
    );
    if (this.failure) throw this.failure;
    if (acked < message.length) {
      throw new Dap1Error("too-many-retries", `a chunk not acknowledged after ${attempts} tries`);
    }
  }

  /** Receives one message: ACKs each good chunk, NACKs a bad checksum or an unexpected sequence number. */
  async receive(options: ReceiveOptions): Promise<Buffer> {
    const { maxBytes, chunkTimeoutMs = 10_000, maxNacks = 20 } = options;
    let first = true;
    const parts: Buffer[] = [];
    let size = 0;
    const receiver = new ChunkReceiver();
    for (;;) {
      const p = await this.next(first ? (options.firstChunkTimeoutMs ?? chunkTimeoutMs) : chunkTimeoutMs);
      if (p.type !== PacketType.DATA && p.type !== PacketType.DATA_END) {
        throw new Dap1Error("unexpected-packet", `packet type ${p.type} inside a transfer`);
      }
      if (first) options.onFirstChunk?.();
      first = false;
      const verdict = receiver.accept(p);
      if (verdict.answer === "nack") {
        if (receiver.nacks > maxNacks) throw new Dap1Error("too-many-retries", `${receiver.nacks} chunks refused`);
        this.write(NACK);
        continue;
      }
      if (verdict.answer === "ack") {
        size += verdict.payload.length;
        if (size > maxBytes) throw new Dap1Error("too-large", `message over ${maxBytes} bytes`);
        parts.push(verdict.payload);
      }
      this.write(ACK);
      if (verdict.answer === "ack" && verdict.end) return Buffer.concat(parts, size);
    }
  }

  /** ACK, NACK or undefined on a timeout. A repeat of the peer's last chunk (our ACK of it was lost) is ACKed again. */
  private async nextAnswer(timeoutMs: number): Promise<Packet | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const reply = await this.next(Math.max(0, deadline - Date.now())).catch((err: Dap1Error) => {
        if (err.fault === "timeout") return undefined;
        throw err;
      });
      if (!reply || reply.type === PacketType.ACK || reply.type === PacketType.NACK) return reply;
      if (reply.type !== PacketType.DATA_END && reply.type !== PacketType.DATA) {
        throw new Dap1Error("unexpected-packet", `packet type ${reply.type} instead of an ACK`);
      }
      this.write(ACK);
    }
  }

  private write(bytes: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  /** The next packet, or the connection's failure, within `timeoutMs`. */
  private async next(timeoutMs: number): Promise<Packet> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const p = this.queue.shift();
      if (p) return p;
      if (this.failure) throw this.failure;
      const left = deadline - Date.now();
      if (left <= 0) throw new Dap1Error("timeout", `nothing within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, left);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.wake = done;
      });
      this.wake = undefined;
    }
  }
}
