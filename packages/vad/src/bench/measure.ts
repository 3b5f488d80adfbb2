// Measures the turn detector on real speech: which VAD mode, frame length and end-of-speech
// silence segment the five LibriVox utterances correctly, with and without background noise,
// how late the end is declared, and what the VAD costs per second of audio.
import { performance } from "node:perf_hooks";
import { DEFAULT_LISTENER_OPTIONS, Listener, type ListenerEvent, type ListenerOptions } from "../listener";
import { speechWithPauses, withNoise } from "../testing";
import type { VadFrameMs, VadMode } from "../webrtc-vad";

const CHUNK = 1280; // 40 ms per push, as a device streams

async function run(options: ListenerOptions, pcm: Buffer): Promise<{ events: ListenerEvent[]; ms: number }> {
  const listener = await Listener.create(options);
  const events: ListenerEvent[] = [];
  const t0 = performance.now();
  for (let i = 0; i < pcm.length; i += CHUNK) events.push(...listener.push(pcm.subarray(i, i + CHUNK)));
  const ms = performance.now() - t0;
  listener.free();
  return { events, ms };
}

async function main(): Promise<void> {
  const script = speechWithPauses(1500);
  const seconds = script.pcm.length / 32_000;
  const noises = [undefined, -50, -40, -30];
  console.log("mode frame silence noise  turns  ok  ends-late-ms(mean,max)  discards  cpu-ms/audio-s");
  for (const mode of [1, 2, 3] as VadMode[]) {
    for (const frameMs of [20, 30] as VadFrameMs[]) {
      for (const endSilenceMs of [300, 400, 500, 600, 700, 800]) {
        for (const noise of noises) {
          const pcm = noise === undefined ? script.pcm : withNoise(script.pcm, noise);
          const options = {
            ...DEFAULT_LISTENER_OPTIONS,
            mode,
            frameMs,
            turn: { ...DEFAULT_LISTENER_OPTIONS.turn, endSilenceMs },
          };
          const { events, ms } = await run(options, pcm);
          const starts = events.filter((e) => e.type === "start");
          const ends = events.filter((e) => e.type === "end");
          const discards = events.filter((e) => e.type === "discard").length;
          // Right: exactly one turn per utterance, starting and ending around it.
          const ok =
            ends.length === script.utterances.length &&
            script.utterances.every((u, i) => {
              const s = starts[i];
              const e = ends[i];
              return s?.type === "start" && e?.type === "end" && s.atMs < u.fromMs + 1000 && e.atMs > u.toMs - 300;
            });
          const late = ends.map((e, i) => (e.type === "end" ? e.atMs - (script.utterances[i]?.toMs ?? 0) : 0));
          const mean = late.length ? late.reduce((a, b) => a + b, 0) / late.length : Number.NaN;
          console.log(
            [
              mode,
              frameMs,
              endSilenceMs,
              noise ?? "none",
              starts.length,
              ok ? "yes" : "NO",
              `${mean.toFixed(0)},${Math.max(...late).toFixed(0)}`,
              discards,
              (ms / seconds).toFixed(3),
            ].join("\t"),
          );
        }
      }
    }
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
