// Canonical RIFF/WAVE (PCM) helpers. Self-contained on purpose (only node:buffer), so other
// workspaces can use or move this file: the firmware and the DAWN client read the data size at
// a fixed offset (40), so every header we write is the canonical 44 bytes with real sizes.

export const WAV_HEADER_BYTES = 44;

export interface PcmFormat {
  sampleRateHz: number;
  channels: number;
  bitsPerSample: number;
}

export const DEVICE_FORMAT: PcmFormat = { sampleRateHz: 16_000, channels: 1, bitsPerSample: 16 };

export interface WavInfo extends PcmFormat {
  /** Offset of the first PCM byte. */
  dataOffset: number;
  /** PCM bytes actually present (a header's claim is clamped to the bytes that exist). */
  dataBytes: number;
  /** The size the `data` chunk header claims; pipes write 0x7FFFF000 or 0xFFFFFFFF here. */
  declaredDataBytes: number;
}

export class WavFormatError extends Error {
  override name = "WavFormatError";
}

function checkFormat(f: PcmFormat): void {
  if (!Number.isInteger(f.sampleRateHz) || f.sampleRateHz < 1 || f.sampleRateHz > 384_000)
    throw new RangeError(`sample rate out of range: ${f.sampleRateHz}`);
  if (!Number.isInteger(f.channels) || f.channels < 1 || f.channels > 8)
    throw new RangeError(`channels out of range: ${f.channels}`);
  if (![8, 16, 24, 32].includes(f.bitsPerSample)) throw new RangeError(`unsupported bits: ${f.bitsPerSample}`);
}

/** The 44-byte header for `dataBytes` of PCM in format `f`. */
export function wavHeader(dataBytes: number, f: PcmFormat = DEVICE_FORMAT): Buffer {
  checkFormat(f);
  const blockAlign = f.channels * (f.bitsPerSample / 8);
  // RIFF sizes are 32-bit; the chunk size field is 36 + data.
  if (!Number.isInteger(dataBytes) || dataBytes < 0 || dataBytes > 0xffffffff - 36)
    throw new RangeError(`data size out of range: ${dataBytes}`);
  if (dataBytes % blockAlign !== 0) throw new RangeError(`data size ${dataBytes} is not whole frames`);
  const h = Buffer.alloc(WAV_HEADER_BYTES);
  h.write("RIFF", 0, "ascii");
  h.writeUInt32LE(36 + dataBytes, 4);
  h.write("WAVE", 8, "ascii");
  h.write("fmt ", 12, "ascii");
  h.writeUInt32LE(16, 16); // fmt chunk size for PCM
  h.writeUInt16LE(1, 20); // format 1: integer PCM
  h.writeUInt16LE(f.channels, 22);
  h.writeUInt32LE(f.sampleRateHz, 24);
  h.writeUInt32LE(f.sampleRateHz * blockAlign, 28); // byte rate
  h.writeUInt16LE(blockAlign, 32);
  h.writeUInt16LE(f.bitsPerSample, 34);
  h.write("data", 36, "ascii");
  h.writeUInt32LE(dataBytes, 40);
  return h;
}

/** One complete WAV file: canonical header followed by the PCM. */
export function toWav(pcm: Uint8Array, f: PcmFormat = DEVICE_FORMAT): Buffer {
  return Buffer.concat([wavHeader(pcm.byteLength, f), pcm]);
}

/**
 * Reads a WAV header by walking its chunks (LIST and other chunks before `data` are skipped).
 * Only integer PCM is accepted. Sizes claimed beyond the buffer are clamped to the real bytes,
 * which is what a header written to a pipe needs.
 */
export function parseWav(buf: Uint8Array): WavInfo {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length < 12 || b.toString("ascii", 0, 4) !== "RIFF" || b.toString("ascii", 8, 12) !== "WAVE")
    throw new WavFormatError("not a RIFF/WAVE file");
  let offset = 12;
  let format: PcmFormat | undefined;
  // Bounded: every step advances by at least 8 bytes.
  while (offset + 8 <= b.length) {
    const id = b.toString("ascii", offset, offset + 4);
    const size = b.readUInt32LE(offset + 4);
    const body = offset + 8;
    if (id === "fmt ") {
      if (size < 16 || body + 16 > b.length) throw new WavFormatError("fmt chunk too short");
      const audioFormat = b.readUInt16LE(body);
      const ext = audioFormat === 0xfffe && size >= 40 && body + 26 <= b.length ? b.readUInt16LE(body + 24) : 0;
      if (audioFormat !== 1 && ext !== 1) throw new WavFormatError(`not integer PCM (format ${audioFormat})`);
      format = {
        channels: b.readUInt16LE(body + 2),
        sampleRateHz: b.readUInt32LE(body + 4),
        bitsPerSample: b.readUInt16LE(body + 14),
      };
      try {
        checkFormat(format);
      } catch (err) {
        throw new WavFormatError((err as Error).message);
      }
    } else if (id === "data") {
      if (!format) throw new WavFormatError("data chunk before fmt chunk");
      const blockAlign = format.channels * (format.bitsPerSample / 8);
      const present = Math.min(size, b.length - body);
      return { ...format, dataOffset: body, dataBytes: present - (present % blockAlign), declaredDataBytes: size };
    }
    offset = body + size + (size % 2); // chunks are word-aligned
  }
  throw new WavFormatError(format ? "no data chunk" : "no fmt chunk");
}

/** Duration in milliseconds of `bytes` of PCM in format `f`. */
export function pcmDurationMs(bytes: number, f: PcmFormat = DEVICE_FORMAT): number {
  return (bytes / (f.sampleRateHz * f.channels * (f.bitsPerSample / 8))) * 1000;
}
