import { round } from "@hotpin/test-support";
import type { FirstAudioResult } from "./first-audio";
import type { IngestStep, IngestSweep } from "./ingest";
import type { ListeningResult } from "./listening";

export interface EdgeReportInput {
  json: boolean;
  firstAudio: FirstAudioResult | undefined;
  /** The same with the STT final from (fake) Groq Whisper. */
  groqFinal?: FirstAudioResult | undefined;
  ingest: { edge: IngestSweep; bare: IngestSweep; streamSeconds: number } | undefined;
  /** Always-listening (Sesame-style) devices: VAD-ended turns, barge-in, CPU per streaming device. */
  listening?: ListeningResult | undefined;
  ackP99LimitMs: number;
  steps: number[];
}

/** The step whose per-device figures are reported: the largest passing one, else the first. */
function referenceStep(s: IngestSweep): IngestStep | undefined {
  // The last run at that N is the passing one (a failing step is run once more).
  return s.steps.filter((x) => x.devices === s.maxDevices).at(-1) ?? s.steps[0];
}

const num = (x: number, d = 1) => (Number.isFinite(x) ? round(x, d) : null);

export function edgeReportJson(r: EdgeReportInput): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const fw = r.firstAudio?.dialects.find((d) => d.dialect === "firmware");
  const spec = r.firstAudio?.dialects.find((d) => d.dialect.startsWith("spec"));
  const dap1 = r.firstAudio?.dialects.find((d) => d.dialect === "dap1");
  if (r.firstAudio && fw && spec) {
    out.e2e_over_stages = num(fw.e2eOverStages, 2);
    out.e2e_over_stages_spec = num(spec.e2eOverStages, 2);
    out.first_audio_ms = num(fw.e2eMs);
    out.first_audio_ms_spec = num(spec.e2eMs);
    if (dap1) {
      out.first_reply_packet_ms_dap1 = num(dap1.e2eMs);
      out.e2e_over_stages_dap1 = num(dap1.e2eOverStages, 2);
    }
    out.fake_groq_latency = r.firstAudio.groqLatency;
    out.e2e_engines = { stt: r.firstAudio.sttEngine, tts: "espeak-ng", llm: "fake groq" };
    out.stages_ms = Object.fromEntries(
      r.firstAudio.dialects.map((d) => [
        d.dialect.startsWith("spec") ? "spec" : d.dialect,
        {
          e2e: num(d.e2eMs),
          stt_final: num(d.sttFinalMs),
          llm_first_segment: num(d.llmFirstSegmentMs),
          tts_first_chunk: num(d.ttsFirstChunkMs),
          tts_sentence: num(d.ttsSentenceMs),
          sum_of_stages: num(d.stagesMs),
          edge_overhead: num(d.edgeOverheadMs),
          edge_marks: Object.fromEntries(Object.entries(d.edgeMarksMs).map(([k, v]) => [k, num(v)])),
          utterances: d.utterances,
        },
      ]),
    );
  }
  const gfw = r.groqFinal?.dialects.find((d) => d.dialect === "firmware");
  if (r.groqFinal && gfw) {
    out.groq_final = {
      stt_engine: r.groqFinal.sttEngine,
      first_audio_ms: num(gfw.e2eMs),
      stt_final_ms: num(gfw.sttFinalMs),
      sum_of_stages_ms: num(gfw.stagesMs),
      e2e_over_stages: num(gfw.e2eOverStages, 2),
    };
  }
  if (r.ingest) {
    const { edge, bare } = r.ingest;
    const e = referenceStep(edge);
    const b = referenceStep(bare);
    out.ingest_devices_edge = edge.maxDevices;
    out.ingest_devices_bare = bare.maxDevices;
    out.ingest_ratio = bare.maxDevices > 0 ? num(edge.maxDevices / bare.maxDevices, 2) : null;
    out.ingest_capped = { edge: edge.capped, bare: bare.capped, largest_step: Math.max(...r.steps) };
    out.ack_p99_limit_ms = r.ackP99LimitMs;
    out.idle_kb_per_device = e ? num(e.idleKbPerDevice) : null;
    out.streaming_kb_per_device = e ? num(e.streamingKbPerDevice) : null;
    out.bare_idle_kb_per_device = b ? num(b.idleKbPerDevice) : null;
    out.bare_streaming_kb_per_device = b ? num(b.streamingKbPerDevice) : null;
    // One core's worth of streaming devices at the reference step: the ingest cost on a per-core basis.
    const perCore = (x: IngestStep | undefined) =>
      x && x.streamingCpuPerDevice > 0 ? Math.round(1 / x.streamingCpuPerDevice) : null;
    out.devices_per_core = { edge: perCore(e), bare: perCore(b) };
    out.per_device_figures_at = { edge: e?.devices ?? null, bare: b?.devices ?? null };
    // Fixed costs spread thinner as N grows: memory is also compared at one N both passed.
    const n = Math.min(edge.maxDevices, bare.maxDevices);
    const kb = (s: IngestSweep) => {
      const x = s.steps.filter((step) => step.devices === n).at(-1);
      return x && { idle: num(x.idleKbPerDevice), streaming: num(x.streamingKbPerDevice) };
    };
    out.kb_per_device_at_same_n = n > 0 ? { devices: n, edge: kb(edge), bare: kb(bare) } : null;
    out.ingest_steps = Object.fromEntries(
      [edge, bare].map((s) => [
        s.target === "edge" ? "edge" : "bare",
        s.steps.map((x) => ({
          devices: x.devices,
          ack_p50_ms: num(x.ackP50Ms),
          ack_p99_ms: num(x.ackP99Ms),
          acks: x.acks,
          aborted: x.aborted,
          failed: x.failed,
          idle_kb_per_device: num(x.idleKbPerDevice),
          streaming_kb_per_device: num(x.streamingKbPerDevice),
          idle_cpu_pct_per_device: num(x.idleCpuPerDevice * 100, 3),
          streaming_cpu_pct_per_device: num(x.streamingCpuPerDevice * 100, 3),
          idle_sample_late: x.idleSampleLate,
          generator_cpu_pct: num(x.generatorCpu * 100),
        })),
      ]),
    );
    out.stream_seconds_per_device = num(r.ingest.streamSeconds, 2);
  }
  if (r.listening) {
    const l = r.listening;
    out.sesame_vad_turn_first_audio_ms = num(l.vadTurn.lastWordToFirstAudioMs);
    out.sesame_vad_end_silence_ms = l.vadTurn.endSilenceMs;
    out.sesame_barge_in_stop_ms = num(l.bargeIn.stopMs);
    out.sesame_barge_in_stop_max_ms = num(l.bargeIn.maxStopMs);
    out.sesame_cpu_ms_per_audio_second = num(l.cpu.msPerAudioSecond, 2);
    out.sesame_cpu_pct_per_device = num(l.cpu.coreSharePerDevice * 100, 3);
    out.sesame_cpu_devices = l.cpu.devices;
    out.sesame_rss_kb_per_device = num(l.cpu.rssKbPerDevice);
  }
  return out;
}

function table(rows: (string | number)[][]): string {
  const cells = rows.map((row) => row.map(String));
  const widths = cells[0]?.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? "").length))) ?? [];
  return cells
    .map((row) => row.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join("  "))
    .join("\n");
}

const ms = (x: number) => (Number.isFinite(x) ? x.toFixed(0) : "-");

export function printEdgeReport(r: EdgeReportInput): void {
  if (r.json) {
    process.stdout.write(`${JSON.stringify(edgeReportJson(r))}\n`);
    return;
  }
  const lines: string[] = [];
  for (const fa of [r.firstAudio, r.groqFinal]) {
    if (!fa) continue;
    const g = fa.groqLatency;
    lines.push(
      `End of speech → first reply audio byte (real mesh, STT ${fa.sttEngine}, fake Groq first token ${g.firstTokenMs} ms + ${g.perTokenMs} ms/token; medians, ms)`,
      table([
        [
          "dialect",
          "STT final",
          "LLM 1st segment",
          "TTS 1st chunk",
          "sum",
          "edge overhead",
          "e2e",
          "e2e/sum",
          "TTS sentence",
        ],
        ...fa.dialects.map((d) => [
          d.dialect,
          ms(d.sttFinalMs),
          ms(d.llmFirstSegmentMs),
          ms(d.ttsFirstChunkMs),
          ms(d.stagesMs),
          ms(d.edgeOverheadMs),
          ms(d.e2eMs),
          d.e2eOverStages.toFixed(2),
          ms(d.ttsSentenceMs),
        ]),
      ]),
      "Edge marks from end of speech (hotpin_edge_stage_seconds, medians, ms)",
      table([
        ["dialect", "stt_final", "llm_first_segment", "tts_first_chunk", "first_audio", "reply_sent"],
        ...fa.dialects.map((d) => [
          d.dialect,
          ...["stt_final", "llm_first_segment", "tts_first_chunk", "first_audio", "reply_sent"].map((k) =>
            ms(d.edgeMarksMs[k] ?? Number.NaN),
          ),
        ]),
      ]),
      "",
    );
  }
  if (r.ingest) {
    lines.push(
      `Ingest: firmware devices at real-time pace (${r.ingest.streamSeconds.toFixed(1)} s of speech each), ACK p99 limit ${r.ackP99LimitMs} ms`,
      table([
        [
          "server",
          "N",
          "ACK p50",
          "ACK p99",
          "aborted",
          "failed",
          "idle KB/dev",
          "stream KB/dev",
          "idle CPU%/dev",
          "stream CPU%/dev",
          "generator CPU%",
        ],
        ...[r.ingest.bare, r.ingest.edge].flatMap((s) =>
          s.steps.map((x) => [
            s.target,
            x.devices,
            x.ackP50Ms.toFixed(1),
            x.ackP99Ms.toFixed(1),
            x.aborted,
            x.failed,
            x.idleKbPerDevice.toFixed(1),
            x.streamingKbPerDevice.toFixed(1),
            (x.idleCpuPerDevice * 100).toFixed(3),
            (x.streamingCpuPerDevice * 100).toFixed(3),
            (x.generatorCpu * 100).toFixed(0),
          ]),
        ),
      ]),
    );
    const j = edgeReportJson(r);
    const capped = (c: boolean) => (c ? " (every step passed: the limit is higher)" : "");
    type Kb = { idle: number | null; streaming: number | null } | undefined;
    const same = j.kb_per_device_at_same_n as { devices: number; edge: Kb; bare: Kb } | null;
    lines.push(
      `largest N under the limit: edge ${r.ingest.edge.maxDevices}${capped(r.ingest.edge.capped)}, bare ws ${r.ingest.bare.maxDevices}${capped(r.ingest.bare.capped)}; ratio ${j.ingest_ratio ?? "-"}`,
      `streaming devices per core at that N: edge ${(j.devices_per_core as { edge: number | null }).edge ?? "-"}, bare ws ${(j.devices_per_core as { bare: number | null }).bare ?? "-"}`,
      `KB per device at N=${same?.devices ?? "-"} (both passed): edge idle ${same?.edge?.idle ?? "-"} / streaming ${same?.edge?.streaming ?? "-"}, bare ws ${same?.bare?.idle ?? "-"} / ${same?.bare?.streaming ?? "-"}`,
    );
  }
  if (r.listening) {
    const l = r.listening;
    lines.push(
      "",
      "Always-listening devices (Sesame-style client, real mesh; medians, ms)",
      table([
        ["row", "value", "note"],
        [
          "VAD-ended turn: last word → first audio",
          ms(l.vadTurn.lastWordToFirstAudioMs),
          `includes the ${l.vadTurn.endSilenceMs} ms silence window; ${l.vadTurn.utterances} turns`,
        ],
        [
          "barge-in: first word → last reply audio",
          ms(l.bargeIn.stopMs),
          `max ${ms(l.bargeIn.maxStopMs)} over ${l.bargeIn.runs} runs; the client still plays its lead`,
        ],
        [
          "CPU per streaming device (ms/audio s)",
          l.cpu.msPerAudioSecond.toFixed(2),
          `${(l.cpu.coreSharePerDevice * 100).toFixed(3)} % of a core; ${l.cpu.devices} devices × ${l.cpu.seconds} s, over idle`,
        ],
        [
          "memory per streaming device (KB RSS)",
          l.cpu.rssKbPerDevice.toFixed(0),
          "sampled mid-stream, over idle (sockets, deflate, listener, STT stream not open)",
        ],
      ]),
    );
  }
  process.stdout.write(`${lines.join("\n")}\n`);
}
