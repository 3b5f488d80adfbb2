import { toWav } from "@hotpin/audio";
import { freePort } from "@hotpin/mesh";
import { runDap1Device, runDevice } from "@hotpin/sim";
import { median, startFakeGroq, startMesh, TEST_DEVICE_TOKEN } from "@hotpin/test-support";
import { histogramDelta, type Samples, sample, scrape } from "./prom-text";

/** Milliseconds of one utterance: the device's end-to-end figure and each stage's own. */
export interface UtteranceTiming {
  /** End of speech leaving the device → first reply audio byte at the device (DAP1: end of upload → first reply packet). */
  e2eMs: number;
  /** Edge: end of speech → STT final transcript. */
  sttFinalMs: number;
  /** LLM service: request → first speakable segment (its own histogram). */
  llmFirstSegmentMs: number;
  /** TTS service: request → first audio chunk (its own histogram). */
  ttsFirstChunkMs: number;
  /**
   * TTS service: engine time of the reply's one sentence (real-time factor × audio seconds). Not
   * a stage of the sum, but every dialect measured here waits for it: each sends a sentence as
   * one WAV, so the edge overhead includes the sentence's synthesis after its first chunk.
   */
  ttsSentenceMs: number;
  /** Edge marks from end of speech (hotpin_edge_stage_seconds): the pipeline as the edge saw it. */
  edgeMarks: Record<string, number>;
}

export interface DialectTiming {
  dialect: string;
  utterances: number;
  /** Medians over the utterances. */
  e2eMs: number;
  sttFinalMs: number;
  llmFirstSegmentMs: number;
  ttsFirstChunkMs: number;
  ttsSentenceMs: number;
  stagesMs: number;
  /** e2e − (STT final + LLM first segment + TTS first chunk): the edge's own share, gRPC hops, socket. */
  edgeOverheadMs: number;
  /** Median of the per-utterance ratios e2e / sum of stages. */
  e2eOverStages: number;
  edgeMarksMs: Record<string, number>;
}

export interface FirstAudioResult {
  /** HOTPIN_STT_ENGINE of the mesh: "pocketsphinx" (local engines) or "pocketsphinx+groq". */
  sttEngine: string;
  groqLatency: { firstTokenMs: number; perTokenMs: number };
  dialects: DialectTiming[];
}

type BenchDialect = "firmware" | "spec" | "dap1";

const EDGE_MARKS = ["stt_final", "llm_first_segment", "tts_first_chunk", "first_audio", "reply_sent"] as const;

/**
 * End of speech → first reply audio byte through the real mesh (storage, STT, LLM against the
 * fake Groq at a fixed latency, TTS, this edge; each its own process). `sttEngine`
 * "pocketsphinx" keeps every engine local (PocketSphinx, espeak-ng); "pocketsphinx+groq" takes
 * the final transcript from the fake Groq's Whisper, which answers after the same first-token
 * latency. Each utterance's answer is
 * one sentence, different every time (so the TTS phrase cache never answers), and the stage
 * figures are what each process's /metrics histograms gained during that utterance alone.
 */
export async function measureFirstAudio(opts: {
  pcm: Buffer;
  utterances: number;
  firstTokenMs: number;
  perTokenMs: number;
  sttEngine: "pocketsphinx" | "pocketsphinx+groq";
  progress: (line: string) => void;
}): Promise<FirstAudioResult> {
  const latency = { firstTokenMs: opts.firstTokenMs, perTokenMs: opts.perTokenMs };
  await using groq = await startFakeGroq({ latency });
  opts.progress(`starting the mesh (storage, stt ${opts.sttEngine}, llm, tts, edge, nats)`);
  const dap1Port = await freePort();
  await using mesh = await startMesh({
    env: { GROQ_API_KEY: "bench-key", GROQ_BASE_URL: groq.url, HOTPIN_STT_ENGINE: opts.sttEngine },
    serviceEnv: { edge: { HOTPIN_EDGE_DAP1_PORT: String(dap1Port), HOTPIN_EDGE_DAP1_ALLOWED_NETWORKS: "127.0.0.1" } },
  });
  const metricsUrl = (name: "edge" | "llm" | "tts") => `http://127.0.0.1:${mesh.mesh.ports[name].metricsPort}/metrics`;
  const scrapeAll = async () => ({
    edge: await scrape(metricsUrl("edge")),
    llm: await scrape(metricsUrl("llm")),
    tts: await scrape(metricsUrl("tts")),
  });
  const url = mesh.edgeUrl.replace("http", "ws");
  let sentence = 0;

  const wav = toWav(opts.pcm);
  /** End of speech (DAP1: of the upload) → first reply audio at the device, in ms. */
  const firstAudio = async (dialect: BenchDialect): Promise<number> => {
    if (dialect === "dap1") {
      // A DAWN client sends the whole WAV as fast as ACKs come back, then waits for the reply.
      return (await runDap1Device({ host: "127.0.0.1", port: dap1Port, wav })).firstPacketMs;
    }
    const r = await runDevice({
      url,
      dialect,
      deviceId: `bench-${dialect}`,
      token: TEST_DEVICE_TOKEN,
      pcm: opts.pcm,
      pacing: "realtime",
      handshakeDelayMs: 0,
      ...(dialect === "spec" ? { capabilities: { tts_segments: true } } : {}),
    });
    const u = r.utterances[0];
    if (!r.ok || u?.firstAudioMs === undefined) {
      throw new Error(`${dialect} utterance failed: ${r.error?.message ?? u?.outcome ?? "no utterance"}`);
    }
    return u.firstAudioMs;
  };

  const one = async (dialect: BenchDialect): Promise<UtteranceTiming> => {
    sentence++;
    groq.script(`Moving forward ${sentence} meters and turning ${sentence % 2 ? "left" : "right"} now.`);
    const before = await scrapeAll();
    const e2eMs = await firstAudio(dialect);
    const after = await scrapeAll();
    const mean = (b: Samples, a: Samples, name: string, labels: Record<string, string> = {}) => {
      const d = histogramDelta(b, a, name, labels);
      return d.count > 0 ? (d.sum / d.count) * 1000 : Number.NaN;
    };
    const edgeMarks: Record<string, number> = {};
    for (const stage of EDGE_MARKS)
      edgeMarks[stage] = mean(before.edge, after.edge, "hotpin_edge_stage_seconds", { stage });
    const rtf = histogramDelta(before.tts, after.tts, "hotpin_tts_real_time_factor");
    const audioSeconds =
      sample(after.tts, "hotpin_tts_audio_seconds_total") - sample(before.tts, "hotpin_tts_audio_seconds_total");
    return {
      e2eMs,
      sttFinalMs: edgeMarks.stt_final ?? Number.NaN,
      llmFirstSegmentMs: mean(before.llm, after.llm, "hotpin_llm_time_to_first_segment_seconds"),
      ttsFirstChunkMs: mean(before.tts, after.tts, "hotpin_tts_first_chunk_seconds"),
      ttsSentenceMs: rtf.count === 1 ? rtf.sum * audioSeconds * 1000 : Number.NaN,
      edgeMarks,
    };
  };

  const dialects: DialectTiming[] = [];
  for (const dialect of ["firmware", "spec", "dap1"] as const) {
    await one(dialect); // warm-up: connections, engine start, first-use caches
    const runs: UtteranceTiming[] = [];
    for (let i = 0; i < opts.utterances; i++) runs.push(await one(dialect));
    const med = (f: (t: UtteranceTiming) => number) => median(runs.map(f));
    const stages = (t: UtteranceTiming) => t.sttFinalMs + t.llmFirstSegmentMs + t.ttsFirstChunkMs;
    const edgeMarksMs: Record<string, number> = {};
    for (const stage of EDGE_MARKS) edgeMarksMs[stage] = med((t) => t.edgeMarks[stage] ?? Number.NaN);
    const timing: DialectTiming = {
      dialect: dialect === "spec" ? "spec (tts_segments)" : dialect,
      utterances: runs.length,
      e2eMs: med((t) => t.e2eMs),
      sttFinalMs: med((t) => t.sttFinalMs),
      llmFirstSegmentMs: med((t) => t.llmFirstSegmentMs),
      ttsFirstChunkMs: med((t) => t.ttsFirstChunkMs),
      ttsSentenceMs: med((t) => t.ttsSentenceMs),
      stagesMs: med(stages),
      edgeOverheadMs: med((t) => t.e2eMs - stages(t)),
      e2eOverStages: med((t) => t.e2eMs / stages(t)),
      edgeMarksMs,
    };
    opts.progress(
      `${opts.sttEngine} ${timing.dialect}: first audio ${timing.e2eMs.toFixed(0)} ms, stages ${timing.stagesMs.toFixed(0)} ms, ratio ${timing.e2eOverStages.toFixed(2)}`,
    );
    dialects.push(timing);
  }
  return { sttEngine: opts.sttEngine, groqLatency: latency, dialects };
}
