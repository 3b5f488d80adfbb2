import { pcmDurationMs } from "@hotpin/audio";
import { Attr, tracer } from "@hotpin/runtime";
import { context, trace } from "@opentelemetry/api";
import { retryPolicy } from "../pipeline/retry";
import { SttStream } from "../pipeline/stt-stream";
import { CLOSE_CODES } from "../transport";
import { type ExchangeHost, type Recording, runExchange } from "./exchange";
import type { RerecordReason } from "./model";
import { DiskQuotaError, RecordingBuffer } from "./recording-buffer";
import type { SessionCore } from "./session-core";
import { QuietTimer } from "./turn-detectors";

const PARTIAL_INTERVAL_MS = 250;

/**
 * A session's recordings, one at a time: started (with its span, STT stream and buffer), fed
 * (sequence gaps, the length cap, the disk quota, ACKs), watched by the dialect's turn detector
 * when it goes quiet, stopped into an exchange or dropped; and the re-record it asks for when one
 * is lost.
 */
export class Recorder {
  /** Utterances begun on this connection (the current one's number). */
  utterances = 0;
  private rec: Recording | undefined;
  private quiet: QuietTimer | undefined;
  private lastPartial = { text: "", at: 0 };
  private rerecords = 0;

  constructor(
    private readonly core: SessionCore,
    /** What the exchange of a stopped recording uses of the session. */
    private readonly host: ExchangeHost,
    /** A turn the device takes itself on a VAD session: the listener's pre-roll is forgotten. */
    private readonly manualTurn: () => void = () => {},
  ) {}

  get current(): Recording | undefined {
    return this.rec;
  }

  /** Starts a recording; false when the server refuses one now (draining). */
  begin(manual: boolean): boolean {
    const core = this.core;
    if (core.draining) {
      core.protocolError("shutting_down", "the server is restarting; reconnect");
      return false;
    }
    if (manual) this.manualTurn();
    const { cfg, services } = core.deps;
    const deviceId = core.deviceId ?? "";
    const utterance = ++this.utterances;
    const span = tracer().startSpan("edge.utterance", {
      attributes: {
        [Attr.deviceId]: deviceId,
        [Attr.sessionId]: core.id,
        [Attr.dialect]: core.dialect.name,
        [Attr.utterance]: utterance,
      },
    });
    const ctx = trace.setSpan(context.active(), span);
    core.abort = new AbortController();
    core.ready.clear();
    this.lastPartial = { text: "", at: 0 };
    const buffer = new RecordingBuffer({
      memoryBytes: cfg.memoryAudioBytes,
      dir: cfg.spillDir,
      diskQuotaBytes: cfg.sessionDiskBytes,
    });
    const stt = context.with(
      ctx,
      () =>
        new SttStream(services.stt, {
          deviceId,
          sessionId: core.id,
          partials: core.caps.partials,
          onPartial: (text) => this.partial(text),
          recording: buffer,
          retry: retryPolicy(cfg),
          onRefused: (call) => core.emit({ type: "service_refused", service: "stt", call }),
          onRetry: (call) => core.emit({ type: "service_retried", service: "stt", call }),
        }),
    );
    this.rec = {
      utterance,
      buffer,
      stt,
      chunks: 0,
      bytes: 0,
      lastSeq: undefined,
      span,
      ctx,
      stoppedAt: 0,
      signal: core.abort.signal,
      manual,
    };
    core.move("start_recording", "Recording");
    core.emit({ type: "recording_started", utterance });
    this.quiet = this.watchQuiet();
    return true;
  }

  add(pcm: Buffer, seq: number | undefined): void {
    const rec = this.rec;
    if (!rec) return;
    const core = this.core;
    const { cfg } = core.deps;
    if (seq !== undefined && rec.lastSeq !== undefined) {
      if (seq <= rec.lastSeq) {
        core.log.debug({ seq }, "duplicate chunk dropped");
        return;
      }
      const gap = seq - rec.lastSeq - 1;
      if (gap > cfg.maxSeqGap) {
        core.log.warn({ gap }, "too many chunks lost");
        this.drop();
        this.rerecord("chunks_lost");
        return;
      }
      if (gap > 0) core.log.info({ gap }, "chunks missing, continuing");
    }
    if (seq !== undefined) rec.lastSeq = seq;
    if (pcmDurationMs(rec.bytes + pcm.length) > cfg.maxRecordingMs) {
      if (core.caps.announcesState) {
        core.protocolError("recording_too_long", `recordings are cut at ${cfg.maxRecordingMs} ms`);
      }
      this.stop();
      return;
    }
    let spilledBytes = 0;
    try {
      const spilled = rec.buffer.spilledBytes;
      rec.buffer.append(pcm);
      spilledBytes = rec.buffer.spilledBytes - spilled;
    } catch (err) {
      if (!(err instanceof DiskQuotaError)) throw err;
      core.protocolError("disk_quota", "the recording exceeds this session's disk quota");
      this.stop();
      return;
    }
    rec.stt.write(pcm);
    rec.chunks++;
    rec.bytes += pcm.length;
    core.emit({ type: "audio_in", bytes: pcm.length, spilledBytes });
    // ACK at once, from the socket's own callback: the firmware gives up after 1000 ms.
    if (rec.chunks % cfg.ackEvery === 0) {
      core.send({ type: "ack", chunks: rec.chunks, bytes: rec.bytes, ...(seq !== undefined ? { seq } : {}) });
    }
    this.quiet?.touch();
  }

  /** The recording ends and its exchange runs (STT final → … → the turn stored). */
  stop(): void {
    this.quiet?.stop();
    const rec = this.rec;
    if (!rec) return;
    this.rec = undefined;
    rec.stoppedAt = Date.now();
    this.core.move("stop_recording", "Processing your request");
    this.core.send({ type: "processing" });
    const { utterance, chunks, bytes, span } = rec;
    this.core.emit({ type: "recording_stopped", utterance, chunks, bytes, durationMs: pcmDurationMs(bytes), span });
    void context.with(rec.ctx, () => runExchange(this.host, rec)).finally(() => rec.span.end());
  }

  /** Abandons the recording in progress (reset, stall, lost chunks, disconnect). */
  drop(): void {
    this.quiet?.stop();
    const rec = this.rec;
    if (!rec) return;
    this.rec = undefined;
    rec.stt.cancel();
    void rec.buffer.dispose();
    rec.span.end();
  }

  /** The seed's server-led recovery: ask again, at most maxRerecords times, then a person must act. */
  rerecord(reason: RerecordReason): void {
    this.rerecords++;
    if (this.rerecords > this.core.deps.cfg.maxRerecords) {
      this.rerecords = 0;
      const utterance = this.utterances;
      this.core.emit({ type: "rerecord", utterance, reason, attempt: this.rerecords, intervention: true });
      void this.core.sendConfirmed({ type: "intervention", message: "Too many re-recording attempts" });
      this.core.move("intervention", "Waiting for the user");
      return;
    }
    askAgain(this.core, this.utterances, reason, this.rerecords);
  }

  /** A turn was answered (or the device reset): the re-record count starts over. */
  answered(): void {
    this.rerecords = 0;
  }

  private partial(text: string): void {
    const now = Date.now();
    if (!text || text === this.lastPartial.text || now - this.lastPartial.at < PARTIAL_INTERVAL_MS) return;
    this.lastPartial = { text, at: now };
    const core = this.core;
    if (core.state !== "recording" && core.state !== "processing") return;
    core.send({ type: "partial", text });
    core.emit({ type: "partial", utterance: this.utterances, text });
  }

  /** The dialect's turn detector decides what a recording that goes quiet means. */
  private watchQuiet(): QuietTimer {
    const core = this.core;
    const { ms, decision } = core.caps.turn.quiet(core.deps.cfg);
    return new QuietTimer(ms, () => {
      if (core.state !== "recording") return;
      if (decision === "process") {
        core.log.info("recording went quiet, processing what arrived");
        this.stop();
      } else if (decision === "stall") {
        core.log.info("recording stalled");
        this.drop();
        core.move("recording_stalled", "Audio stopped arriving");
        this.rerecord("stalled");
      } else {
        core.log.info("transfer stalled, closing");
        core.emit({ type: "transfer_timeout" });
        core.hangUp("policy", "transfer timeout", CLOSE_CODES.policy, "transfer timeout");
      }
    });
  }
}

/** Asks the device to record again (`attempt` of the re-records allowed). */
export function askAgain(core: SessionCore, utterance: number, reason: RerecordReason, attempt: number): void {
  core.emit({ type: "rerecord", utterance, reason, attempt, intervention: false });
  void core.sendConfirmed({ type: "rerecord", reason, attempt });
  core.move("rerecord", "Please record again");
}
