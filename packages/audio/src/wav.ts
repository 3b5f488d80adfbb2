/** Size of the canonical RIFF/WAVE header with one fmt chunk and one data chunk. */
export const WAV_HEADER_BYTES = 44;

export interface PcmFormat {
  sampleRate: number;
  channels: number;
  bitsPerSample: number;
}

export const DEVICE_FORMAT: PcmFormat = { sampleRate: 16_000, channels: 1, bitsPerSample: 16 };

/**
 * The canonical 44-byte header with real sizes: the firmware and the DAWN client read the data
 * size at offset 40, so it must be the true byte count, never the guess a streaming writer puts there.
 */
export function wavHeader(dataBytes: number, format: PcmFormat = DEVICE_FORMAT): Buffer {
  checkFormat(format);
  const { sampleRate, channels, bitsPerSample } = format;
  const blockAlign = (channels * bitsPerSample) / 8;
  if (!Number.isInteger(dataBytes) || dataBytes < 0 || dataBytes % blockAlign !== 0 || dataBytes > 0xffffffff - 36) {
    throw new WavError(`data size ${dataBytes} is not a whole number of ${blockAlign}-byte frames within 4 GiB`);
  }
  const h = Buffer.alloc(WAV_HEADER_BYTES);
  h.write("RIFF", 0, "ascii");
  h.writeUInt32LE(36 + dataBytes, 4);
  h.write("WAVE", 8, "ascii");
  h.write("fmt ", 12, "ascii");
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20); // PCM
  h.writeUInt16LE(channels, 22);
  h.writeUInt32LE(sampleRate, 24);
  h.writeUInt32LE(sampleRate * blockAlign, 28);
  h.writeUInt16LE(blockAlign, 32);
  h.writeUInt16LE(bitsPerSample, 34);
  h.write("data", 36, "ascii");
  h.writeUInt32LE(dataBytes, 40);
  return h;
}

export function toWav(pcm: Buffer, format: PcmFormat = DEVICE_FORMAT): Buffer {
  return Buffer.concat([wavHeader(pcm.length, format), pcm]);
}

export class WavError extends Error {
  override name = "WavError";
}

export interface ParsedWav {
  format: PcmFormat;
  /** Whole frames of PCM; clipped to the bytes present when the header claims more. */
  data: Buffer;
  /** What the data chunk's header claimed: larger than `data` for files written to a pipe. */
  declaredBytes: number;
}

function checkFormat(format: PcmFormat): void {
  const { sampleRate, channels, bitsPerSample } = format;
  if (!(channels >= 1 && channels <= 8) || ![8, 16, 24, 32].includes(bitsPerSample)) {
    throw new WavError(`unsupported PCM layout: ${channels} channels of ${bitsPerSample} bits`);
  }
  if (!(sampleRate >= 1000 && sampleRate <= 384_000)) throw new WavError(`unsupported sample rate ${sampleRate}`);
}

/** Parses PCM WAV files, walking the chunk list, so headers with extra chunks (LIST) work too. */
export function parseWav(file: Buffer): ParsedWav {
  if (file.length < 12 || file.toString("ascii", 0, 4) !== "RIFF" || file.toString("ascii", 8, 12) !== "WAVE") {
    throw new WavError("not a RIFF/WAVE file");
  }
  let format: PcmFormat | undefined;
  let offset = 12;
  while (offset + 8 <= file.length) {
    const id = file.toString("ascii", offset, offset + 4);
    const size = file.readUInt32LE(offset + 4);
    const body = offset + 8;
    if (id === "fmt ") {
      if (size < 16 || body + 16 > file.length) throw new WavError("truncated fmt chunk");
      if (file.readUInt16LE(body) !== 1) throw new WavError("only PCM WAV is supported");
      format = {
        channels: file.readUInt16LE(body + 2),
        sampleRate: file.readUInt32LE(body + 4),
        bitsPerSample: file.readUInt16LE(body + 14),
      };
    } else if (id === "data") {
      if (!format) throw new WavError("data chunk before fmt chunk");
      checkFormat(format);
      const frame = (format.channels * format.bitsPerSample) / 8;
      const present = Math.min(file.length - body, size);
      return { format, data: file.subarray(body, body + present - (present % frame)), declaredBytes: size };
    }
    offset = body + size + (size % 2);
  }
  throw new WavError("no data chunk");
}

/** Duration of PCM bytes in milliseconds. */
export function pcmDurationMs(bytes: number, format: PcmFormat = DEVICE_FORMAT): number {
  return Math.round((bytes / ((format.sampleRate * format.channels * format.bitsPerSample) / 8)) * 1000);
}
