import { spawnSync } from "node:child_process";

/**
 * espeak-ng saying `text` as PCM16 mono at 16 kHz, with half a second of near-silence each side.
 * sox resamples (as the TTS service does) in repeatable mode: its dither is the same every run,
 * and it keeps the padding from being digital zeros, which no microphone gives.
 */
export function spokenPcm16k(text: string, voice = "en-us"): Buffer {
  const wav = run("espeak-ng", ["-v", voice, "--stdout", text]);
  return run(
    "sox",
    ["-R", "-t", "wav", "-", "-r", "16000", "-b", "16", "-c", "1", "-t", "raw", "-", "pad", "0.5", "0.5"],
    wav,
  );
}

function run(cmd: string, args: string[], input?: Buffer): Buffer {
  const out = spawnSync(cmd, args, { input, timeout: 10_000, maxBuffer: 16 * 1024 * 1024 });
  if (out.status !== 0) throw new Error(`${cmd} failed: ${out.stderr?.toString() || out.error?.message}`);
  return out.stdout;
}
