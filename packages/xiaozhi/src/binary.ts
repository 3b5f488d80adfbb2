// Binary audio messages, one Opus packet each, in protocol v1 (bare), v2 (16-byte header) or
// v3 (4-byte header); integers big-endian (docs/protocols/xiaozhi.md §5).
import { XiaozhiProtocolError } from "./errors";

export type ProtocolVersion = 1 | 2 | 3;
export const PROTOCOL_VERSIONS: readonly ProtocolVersion[] = [1, 2, 3];

export const V2_HEADER_BYTES = 16;
export const V3_HEADER_BYTES = 4;
/** RFC 6716's largest packet: three frames of 1275 bytes plus framing. 60 ms at any bitrate fits. */
export const MAX_OPUS_PACKET_BYTES = 3 * 1275 + 7;

export interface AudioFrame {
  opus: Buffer;
  /** v2 only: the playback timestamp for server-side echo cancellation; 0 otherwise. */
  timestampMs: number;
}

function checkPacket(opus: Buffer): void {
  if (opus.length === 0) throw new XiaozhiProtocolError("empty audio frame");
  if (opus.length > MAX_OPUS_PACKET_BYTES) {
    throw new XiaozhiProtocolError(`audio frame of ${opus.length} bytes is longer than an Opus packet can be`);
  }
}

/** The Opus packet in one binary message (a view, not a copy). */
export function decodeAudioFrame(version: ProtocolVersion, data: Buffer): AudioFrame {
  let frame: AudioFrame;
  if (version === 1) {
    frame = { opus: data, timestampMs: 0 };
  } else if (version === 2) {
    if (data.length < V2_HEADER_BYTES) throw new XiaozhiProtocolError("v2 audio frame shorter than its header");
    const type = data.readUInt16BE(2);
    if (type !== 0) throw new XiaozhiProtocolError(`v2 frame of type ${type}: only 0 (Opus) is defined`);
    const size = data.readUInt32BE(12);
    if (size !== data.length - V2_HEADER_BYTES) {
      throw new XiaozhiProtocolError(
        `v2 header says ${size} payload bytes, the frame holds ${data.length - V2_HEADER_BYTES}`,
      );
    }
    frame = { opus: data.subarray(V2_HEADER_BYTES), timestampMs: data.readUInt32BE(8) };
  } else {
    if (data.length < V3_HEADER_BYTES) throw new XiaozhiProtocolError("v3 audio frame shorter than its header");
    if (data[0] !== 0) throw new XiaozhiProtocolError(`v3 frame of type ${data[0]}: only 0 (Opus) is defined`);
    const size = data.readUInt16BE(2);
    if (size !== data.length - V3_HEADER_BYTES) {
      throw new XiaozhiProtocolError(
        `v3 header says ${size} payload bytes, the frame holds ${data.length - V3_HEADER_BYTES}`,
      );
    }
    frame = { opus: data.subarray(V3_HEADER_BYTES), timestampMs: 0 };
  }
  checkPacket(frame.opus);
  return frame;
}

/** One binary message for the device; the device trusts the header's size, so it is always exact. */
export function encodeAudioFrame(version: ProtocolVersion, opus: Buffer, timestampMs = 0): Buffer {
  checkPacket(opus);
  if (version === 1) return opus;
  if (version === 2) {
    const out = Buffer.alloc(V2_HEADER_BYTES + opus.length);
    out.writeUInt16BE(2, 0);
    out.writeUInt32BE(timestampMs >>> 0, 8);
    out.writeUInt32BE(opus.length, 12);
    opus.copy(out, V2_HEADER_BYTES);
    return out;
  }
  const out = Buffer.alloc(V3_HEADER_BYTES + opus.length);
  out.writeUInt16BE(opus.length, 2);
  opus.copy(out, V3_HEADER_BYTES);
  return out;
}
