// CPU per second of audio: the bare WebRTC VAD, and the whole listener (framing, VAD, level,
// turn detection, barge-in guard), on 10 passes over the LibriVox script.
import { performance } from "node:perf_hooks";
import { FrameSplitter } from "../frames";
import { DEFAULT_BARGE_IN, DEFAULT_LISTENER_OPTIONS, Listener } from "../listener";
import { speechWithPauses } from "../testing";
import { WebRtcVad } from "../webrtc-vad";

async function main(): Promise<void> {
  const one = speechWithPauses(1500).pcm;
  const pcm = Buffer.concat(Array.from({ length: 10 }, () => one));
  const seconds = pcm.length / 32_000;
  for (let round = 0; round < 3; round++) {
    const vad = await WebRtcVad.create({ sampleRate: 16_000, frameMs: 20, mode: 3 });
    const frames = new FrameSplitter(vad.frameSamples).push(pcm);
    let t0 = performance.now();
    for (const f of frames) vad.isSpeech(f);
    const vadMs = performance.now() - t0;
    vad.free();
    const listener = await Listener.create({ ...DEFAULT_LISTENER_OPTIONS, bargeIn: DEFAULT_BARGE_IN });
    t0 = performance.now();
    for (let i = 0; i < pcm.length; i += 1920) listener.push(pcm.subarray(i, i + 1920));
    const listenerMs = performance.now() - t0;
    listener.free();
    console.log(
      `round ${round}: ${seconds.toFixed(0)} s of audio; VAD ${(vadMs / seconds).toFixed(3)} ms/s, listener ${(listenerMs / seconds).toFixed(3)} ms/s`,
    );
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
