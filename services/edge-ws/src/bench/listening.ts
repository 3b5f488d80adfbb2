import { runSesameDevice } from "@hotpin/sim";
import { median, startFakeGroq, startMesh, TEST_TOKEN_SECRET } from "@hotpin/test-support";
import { DEFAULT_LISTENER_OPTIONS } from "@hotpin/vad";
import { speechSpan } from "@hotpin/vad/dist/testing";
import { issueToken } from "../auth";
import { cpuShare, sampleProcess } from "./process-stats";

export interface ListeningResult {
  /** Sesame-style turns ended by the server's VAD. */
  vadTurn: {
    utterances: number;
    /** Last word → first reply audio at the device: the silence window, STT final, LLM, TTS, pacing. */
    lastWordToFirstAudioMs: number;
    endSilenceMs: number;
  };
  /** The user speaks over the reply. */
  bargeIn: {
    runs: number;
    /** The user's first word → the last reply audio message the device received (median, max). */
    stopMs: number;
    maxStopMs: number;
  };
  /** Devices streaming their microphone without pause (no turns: quiet noise). */
  cpu: {
    devices: number;
    seconds: number;
    /** Edge CPU per device, over its idle baseline: VAD, 24→16 kHz resampling, JSON and base64. */
    msPerAudioSecond: number;
    coreSharePerDevice: number;
    /** Edge resident memory per streaming device, sampled mid-stream, over idle. */
    rssKbPerDevice: number;
  };
}

/** Quiet white noise (-60 dBFS RMS), fixed seed: an always-listening room where nobody talks. */
function roomNoise(ms: number): Buffer {
  const out = Buffer.alloc(ms * 32);
  let state = 7;
  for (let i = 0; i < out.length; i += 2) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out.writeInt16LE(Math.round(((state / 0x100000000) * 2 - 1) * 57), i);
  }
  return out;
}

/**
 * The always-listening rows of `bench:edge`, with Sesame-style clients (packages/sim) against
 * the real mesh: a VAD-ended turn's latency, barge-in reaction, and CPU per streaming device.
 */
export async function measureListening(opts: {
  pcm: Buffer;
  runs: number;
  devices: number;
  seconds: number;
  progress: (line: string) => void;
}): Promise<ListeningResult> {
  const answer =
    "First, I will move forward ten meters, slowly and carefully, watching the floor. Then I will turn left.";
  await using groq = await startFakeGroq({ defaultAnswer: answer, latency: { firstTokenMs: 250, perTokenMs: 10 } });
  opts.progress("starting the mesh for always-listening devices");
  await using mesh = await startMesh({ env: { GROQ_API_KEY: "bench-key", GROQ_BASE_URL: groq.url } });
  const { onsetMs, lastWordMs } = await speechSpan(opts.pcm);
  const fileMs = opts.pcm.length / 32;
  let n = 0;
  const device = async () => issueToken(TEST_TOKEN_SECRET, `bench-sesame-${++n}`, 3600);
  const failed = (r: Awaited<ReturnType<typeof runSesameDevice>>) => {
    if (r.error) throw new Error(`sesame device failed: ${r.error.message}`);
  };

  const turns: number[] = [];
  for (let i = 0; i <= opts.runs; i++) {
    const r = await runSesameDevice({ url: mesh.edgeUrl, token: await device(), pcm: opts.pcm, utterances: 1 });
    failed(r);
    const first = r.turns[0]?.firstAudioMs;
    // The first run warms the engines; the sim dates end of speech at the file's end.
    if (i > 0 && first !== undefined) turns.push(first + fileMs - lastWordMs);
  }
  opts.progress(`vad turn: last word → first audio ${median(turns).toFixed(0)} ms`);

  const stops: number[] = [];
  for (let i = 0; i < opts.runs; i++) {
    const r = await runSesameDevice({
      url: mesh.edgeUrl,
      token: await device(),
      pcm: opts.pcm,
      utterances: 2,
      bargeInAfterMs: 900,
    });
    failed(r);
    const after = r.turns[0]?.audioAfterBargeInMs;
    if (after !== undefined) stops.push(after - onsetMs);
  }
  opts.progress(`barge-in: reply audio stops ${median(stops).toFixed(0)} ms after the user's first word`);

  const pid = mesh.mesh.pid("edge");
  if (!pid) throw new Error("the edge process has no pid");
  const settle = () => new Promise((r) => setTimeout(r, 2_000));
  await settle();
  const idle0 = await sampleProcess(pid);
  await new Promise((r) => setTimeout(r, opts.seconds * 1000));
  const idle1 = await sampleProcess(pid);
  const noise = roomNoise(opts.seconds * 1000);
  const tokens = await Promise.all(Array.from({ length: opts.devices }, device));
  const busy0 = await sampleProcess(pid);
  const mid = new Promise((r) => setTimeout(r, opts.seconds * 500)).then(() => sampleProcess(pid));
  const streams = await Promise.all(
    tokens.map((token) => runSesameDevice({ url: mesh.edgeUrl, token, pcm: noise, expectReplies: false })),
  );
  const busy1 = await sampleProcess(pid);
  const rssKbPerDevice = ((await mid).rssKb - idle1.rssKb) / opts.devices;
  for (const r of streams) failed(r);
  const extra = cpuShare(busy0, busy1) - cpuShare(idle0, idle1);
  const coreSharePerDevice = Math.max(0, extra) / opts.devices;
  opts.progress(`cpu: ${(coreSharePerDevice * 100).toFixed(2)} % of a core per streaming device`);
  return {
    vadTurn: {
      utterances: turns.length,
      lastWordToFirstAudioMs: median(turns),
      endSilenceMs: DEFAULT_LISTENER_OPTIONS.turn.endSilenceMs,
    },
    bargeIn: { runs: stops.length, stopMs: median(stops), maxStopMs: Math.max(...stops) },
    cpu: {
      devices: opts.devices,
      seconds: opts.seconds,
      msPerAudioSecond: coreSharePerDevice * 1000,
      coreSharePerDevice,
      rssKbPerDevice,
    },
  };
}
