// CPU per stream of what an always-listening xiaozhi device costs the edge: decoding its 16 kHz
// 60 ms Opus (DTX included), encoding 24 kHz 60 ms replies, and the resampling at the boundary.
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { OpusDecoder, OpusEncoder, opusApi } from "../opus";
import { pcmSamples, Resampler } from "../resampler";
import { parseWav } from "../wav";

const LIBRIVOX = "/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0870.wav";

function frames(pcm: Int16Array, size: number): Int16Array[] {
  const out: Int16Array[] = [];
  for (let at = 0; at + size <= pcm.length; at += size) out.push(pcm.slice(at, at + size));
  return out;
}

function timed(fn: () => void): number {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
}

async function main(): Promise<void> {
  const once = pcmSamples(parseWav(readFileSync(LIBRIVOX)).data);
  const speech16 = new Int16Array(once.length * 8);
  for (let i = 0; i < 8; i++) speech16.set(once, i * once.length);
  const up = new Resampler(16_000, 24_000);
  const speech24 = up.push(speech16);
  const seconds = speech16.length / 16_000;
  // The device's encoder (complexity 0, DTX), with a pause of silence per repetition.
  const device = new OpusEncoder({ sampleRate: 16_000, frameMs: 60, application: "audio", complexity: 0, dtx: true });
  const withPauses = new Int16Array(speech16.length + 8 * 32_000);
  for (let i = 0; i < 8; i++) withPauses.set(once, i * (once.length + 32_000));
  const upstream = frames(withPauses, 960).map((f) => device.encode(f));
  device.free();
  const dtx = upstream.filter((p) => p.length <= 3).length;
  const api = opusApi();
  console.log(`${seconds.toFixed(0)} s of speech; ${upstream.length} upstream packets, ${dtx} of them DTX (<= 3 B)`);
  console.log(`native state: encoder ${api.encoderSize(1)} B, decoder ${api.decoderSize(1)} B`);
  for (let round = 0; round < 3; round++) {
    const row: string[] = [];
    for (const complexity of [10, 5, 0]) {
      const enc = new OpusEncoder({
        sampleRate: 24_000,
        frameMs: 60,
        application: "audio",
        bitrate: 24_000,
        complexity,
      });
      const input = frames(speech24, 1440);
      row.push(
        `encode 24k c${complexity} ${(
          timed(() => {
            for (const f of input) enc.encode(f);
          }) / seconds
        ).toFixed(2)}`,
      );
      enc.free();
    }
    const dec = new OpusDecoder(16_000);
    const upSeconds = (upstream.length * 60) / 1000;
    row.push(
      `decode 16k ${(
        timed(() => {
          for (const p of upstream) dec.decode(p);
        }) / upSeconds
      ).toFixed(2)}`,
    );
    dec.free();
    const down = new Resampler(24_000, 16_000);
    row.push(`resample 24k→16k ${(timed(() => down.push(speech24)) / seconds).toFixed(2)}`);
    console.log(`round ${round} (ms CPU per audio second): ${row.join(", ")}`);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
