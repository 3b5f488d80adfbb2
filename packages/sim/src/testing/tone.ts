/** A 440 Hz tone as PCM s16le 16 kHz mono: stands in for speech and for reply audio. */
export function tonePcm(ms: number, amplitude = 8000): Buffer {
  const samples = Math.round((16_000 * ms) / 1000);
  const pcm = Buffer.alloc(samples * 2);
  for (let i = 0; i < samples; i++)
    pcm.writeInt16LE(Math.round(amplitude * Math.sin((2 * Math.PI * 440 * i) / 16_000)), i * 2);
  return pcm;
}
