import { readFile } from "node:fs/promises";
import { DEVICE_FORMAT, parseWav } from "@hotpin/audio";
import { SimError } from "./errors";

/**
 * The audio a device speaks: a WAV file (must already be 16 kHz mono 16-bit, as the device's
 * microphone delivers) or raw PCM s16le 16 kHz mono. Returns the PCM bytes.
 */
export async function loadSpeech(path: string): Promise<Buffer> {
  return speechFromBytes(await readFile(path), path);
}

export function speechFromBytes(bytes: Buffer, name = "input"): Buffer {
  let pcm = bytes;
  if (bytes.subarray(0, 4).toString("ascii") === "RIFF") {
    const wav = parseWav(bytes);
    const { sampleRate, channels, bitsPerSample } = wav.format;
    if (
      sampleRate !== DEVICE_FORMAT.sampleRate ||
      channels !== DEVICE_FORMAT.channels ||
      bitsPerSample !== DEVICE_FORMAT.bitsPerSample
    ) {
      throw new SimError(
        "input",
        `${name}: need 16 kHz mono 16-bit, got ${sampleRate} Hz ${channels} ch ${bitsPerSample}-bit`,
      );
    }
    pcm = wav.data;
  }
  if (pcm.length === 0) throw new SimError("input", `${name}: no audio`);
  // A device never sends half a sample.
  return pcm.length % 2 === 0 ? pcm : pcm.subarray(0, pcm.length - 1);
}

/** Splits PCM into chunks of `size` bytes; the last one may be shorter, as on the device. */
export function chunkPcm(pcm: Buffer, size: number): Buffer[] {
  if (!Number.isInteger(size) || size <= 0 || size % 2 !== 0) {
    throw new SimError("input", `chunk size must be a positive even number of bytes, got ${size}`);
  }
  const chunks: Buffer[] = [];
  for (let off = 0; off < pcm.length; off += size) chunks.push(pcm.subarray(off, off + size));
  return chunks;
}
