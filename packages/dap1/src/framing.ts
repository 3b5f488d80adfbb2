// DAP1 packets (docs/protocols/dap1.md): an 8-byte header `len:u32be | version | type |
// checksum:u16be`, then for DATA and DATA_END a u16be sequence number that neither `len` nor the
// checksum covers, then `len` bytes of payload.

export const VERSION = 0x01;
export const HEADER_BYTES = 8;
export const SEQ_BYTES = 2;
/** The largest payload a DAP1 sender puts in one packet. */
export const MAX_CHUNK_BYTES = 8192;
/** The handshake's payload. */
export const MAGIC = Buffer.from([0xa5, 0x5a, 0xb2, 0x2b]);

export const PacketType = {
  HANDSHAKE: 0x01,
  DATA: 0x02,
  DATA_END: 0x03,
  ACK: 0x04,
  NACK: 0x05,
  RETRY: 0x06,
} as const;
export type PacketType = (typeof PacketType)[keyof typeof PacketType];

const KNOWN_TYPES = new Set<number>(Object.values(PacketType));

export interface Packet {
  type: PacketType;
  /** DATA and DATA_END only. */
  seq?: number;
  payload: Buffer;
  /** The header's checksum matches the payload. */
  checksumOk: boolean;
}

/** Fletcher-16 over the payload, modulo 255, as the DAWN client computes it; 0 when empty. */
export function fletcher16(data: Uint8Array): number {
  let s1 = 0;
  let s2 = 0;
  for (const b of data) {
    s1 = (s1 + b) % 255;
    s2 = (s2 + s1) % 255;
  }
  return (s2 << 8) | s1;
}

export function hasSeq(type: number): boolean {
  return type === PacketType.DATA || type === PacketType.DATA_END;
}

export function encodePacket(type: PacketType, payload: Buffer = Buffer.alloc(0), seq = 0): Buffer {
  const extra = hasSeq(type) ? SEQ_BYTES : 0;
  const out = Buffer.allocUnsafe(HEADER_BYTES + extra + payload.length);
  out.writeUInt32BE(payload.length, 0);
  out[4] = VERSION;
  out[5] = type;
  out.writeUInt16BE(fletcher16(payload), 6);
  if (extra) out.writeUInt16BE(seq & 0xffff, HEADER_BYTES);
  payload.copy(out, HEADER_BYTES + extra);
  return out;
}

/** Why a byte stream is not DAP1: the connection cannot continue after any of these. */
export type FramingFault = "bad-version" | "bad-type" | "oversize" | "flood";

export class FramingError extends Error {
  override name = "FramingError";
  constructor(readonly fault: FramingFault) {
    super(`not a DAP1 stream: ${fault}`);
  }
}

export interface ReaderLimits {
  /** Longest payload accepted in one packet. */
  maxPayloadBytes: number;
  /** Most bytes held unparsed: a peer that waits for ACKs as DAP1 requires never comes near. */
  maxBufferedBytes: number;
}

export const DEFAULT_READER_LIMITS: ReaderLimits = {
  maxPayloadBytes: MAX_CHUNK_BYTES,
  maxBufferedBytes: 4 * (HEADER_BYTES + SEQ_BYTES + MAX_CHUNK_BYTES),
};

/** Cuts a byte stream into packets, however TCP splits or joins them. */
export class PacketParser {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(private readonly limits: ReaderLimits = DEFAULT_READER_LIMITS) {}

  /** Adds bytes and returns every packet now complete; throws FramingError on a broken stream. */
  push(chunk: Buffer): Packet[] {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    const packets: Packet[] = [];
    for (;;) {
      if (this.pendingBytes < HEADER_BYTES) break;
      const head = this.peek(HEADER_BYTES);
      const len = head.readUInt32BE(0);
      if (head[4] !== VERSION) throw new FramingError("bad-version");
      const type = head[5] as number;
      if (!KNOWN_TYPES.has(type)) throw new FramingError("bad-type");
      if (len > this.limits.maxPayloadBytes) throw new FramingError("oversize");
      const extra = hasSeq(type) ? SEQ_BYTES : 0;
      const total = HEADER_BYTES + extra + len;
      if (this.pendingBytes < total) break;
      const bytes = this.take(total);
      const payload = bytes.subarray(HEADER_BYTES + extra);
      packets.push({
        type: type as PacketType,
        seq: extra ? bytes.readUInt16BE(HEADER_BYTES) : undefined,
        payload,
        checksumOk: fletcher16(payload) === head.readUInt16BE(6),
      });
    }
    if (this.pendingBytes > this.limits.maxBufferedBytes) throw new FramingError("flood");
    return packets;
  }

  private peek(n: number): Buffer {
    if (this.pending[0] && this.pending[0].length >= n) return this.pending[0].subarray(0, n);
    const joined = Buffer.concat(this.pending);
    this.pending = [joined];
    return joined.subarray(0, n);
  }

  private take(n: number): Buffer {
    const first = this.peek(n);
    const head = this.pending[0] as Buffer;
    // A copy: the packet outlives the (possibly large) chunk it arrived in.
    const out = Buffer.from(first);
    const rest = head.subarray(n);
    this.pending = rest.length ? [rest, ...this.pending.slice(1)] : this.pending.slice(1);
    this.pendingBytes -= n;
    return out;
  }
}

/** The bare answers to a chunk (and to the handshake). */
export const ACK_PACKET = encodePacket(PacketType.ACK);
export const NACK_PACKET = encodePacket(PacketType.NACK);
