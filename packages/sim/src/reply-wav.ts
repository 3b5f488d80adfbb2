import { DEVICE_FORMAT, parseWav, WAV_HEADER_BYTES, WavError, wavHeader } from "@hotpin/audio";
import { ProtocolError } from "./errors";

/** The firmware decoder scans this many bytes for "RIFF" before giving up. */
export const RIFF_SCAN_BYTES = 8192;

/**
 * Checks that a reply is what both dialects promise: a 16 kHz mono 16-bit PCM WAV whose header is
 * the canonical 44 bytes with true sizes and whose length is exactly data_size + 44.
 * Returns the data size.
 */
export function checkReplyWav(wav: Buffer): number {
  if (wav.length < WAV_HEADER_BYTES)
    throw new ProtocolError(`reply WAV has only ${wav.length} bytes, less than a header`);
  let parsed: ReturnType<typeof parseWav>;
  try {
    parsed = parseWav(wav);
  } catch (err) {
    if (err instanceof WavError) throw new ProtocolError(`reply is not a valid WAV: ${err.message}`, { cause: err });
    throw err;
  }
  const { sampleRate, channels, bitsPerSample } = parsed.format;
  if (
    sampleRate !== DEVICE_FORMAT.sampleRate ||
    channels !== DEVICE_FORMAT.channels ||
    bitsPerSample !== DEVICE_FORMAT.bitsPerSample
  ) {
    throw new ProtocolError(
      `reply WAV is ${sampleRate} Hz ${channels} ch ${bitsPerSample}-bit, device plays 16 kHz mono 16-bit`,
    );
  }
  const dataSize = wav.readUInt32LE(40);
  if (!wav.subarray(0, WAV_HEADER_BYTES).equals(wavHeader(dataSize))) {
    throw new ProtocolError("reply WAV header is not the canonical 44-byte header with true sizes");
  }
  if (wav.length !== dataSize + WAV_HEADER_BYTES) {
    throw new ProtocolError(
      `reply WAV has ${wav.length} bytes but its header says data_size+44 = ${dataSize + WAV_HEADER_BYTES}`,
    );
  }
  return dataSize;
}

/**
 * Collects the firmware dialect's reply audio the way the device's decoder reads it: "RIFF" must
 * appear within the first 8 KB, playback ends after data_size + 44 bytes, and the stream ends with
 * a zero-length frame. Bytes beyond data_size + 44 or a stream that ends short are protocol errors.
 */
export class FirmwareWavReceiver {
  private bytes = Buffer.alloc(0);
  private riffAt = -1;
  private expected = -1;
  private skipped = 0;

  /** True once the 44-byte header has been read (the device's 10 s timeout applies from then on). */
  get headerSeen(): boolean {
    return this.expected >= 0;
  }

  /** Bytes that preceded "RIFF" (the device skips them). */
  get skippedBytes(): number {
    return this.skipped;
  }

  push(frame: Buffer): void {
    this.bytes = Buffer.concat([this.bytes, frame]);
    if (this.riffAt < 0) {
      const at = this.bytes.indexOf("RIFF");
      if (at < 0 || at > RIFF_SCAN_BYTES - 4) {
        if (this.bytes.length >= RIFF_SCAN_BYTES)
          throw new ProtocolError("no RIFF header in the first 8 KB of reply audio");
        return;
      }
      this.riffAt = at;
      this.skipped = at;
      this.bytes = this.bytes.subarray(at);
    }
    if (this.expected < 0 && this.bytes.length >= WAV_HEADER_BYTES) {
      this.expected = this.bytes.readUInt32LE(40) + WAV_HEADER_BYTES;
    }
    if (this.expected >= 0 && this.bytes.length > this.expected) {
      throw new ProtocolError(
        `reply audio has ${this.bytes.length - this.expected} bytes beyond data_size+44 (${this.expected})`,
      );
    }
  }

  /** Called at the zero-length frame: returns the WAV once it is complete and valid. */
  finish(): Buffer {
    if (this.riffAt < 0) throw new ProtocolError("reply audio ended without a RIFF header");
    if (this.expected < 0 || this.bytes.length < this.expected) {
      throw new ProtocolError(
        `reply audio ended after ${this.bytes.length} bytes, header says data_size+44 = ${this.expected < 0 ? "?" : this.expected}`,
      );
    }
    checkReplyWav(this.bytes);
    return this.bytes;
  }
}
