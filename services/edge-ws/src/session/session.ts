import { randomUUID } from "node:crypto";
import { pcmDurationMs } from "@hotpin/audio";
import { edge } from "@hotpin/contracts";
import {
  Attr,
  cleanText,
  DEVICE_ID_RULE,
  isValidDeviceId,
  type Logger,
  MAX_CLOSE_REASON_BYTES,
  recordFailure,
  tracer,
} from "@hotpin/runtime";
import { type ListenerEvent, listenerOptions } from "@hotpin/vad";
import { context, trace } from "@opentelemetry/api";
import { type Grant, grantCovers } from "../auth";
import type { EdgeConfig } from "../config";
import type { Dialect } from "../dialects/dialect";
import type { EventSink } from "../events";
import type { PendingImages } from "../images/pending-images";
import type { EdgeMetrics } from "../metrics";
import type { Apologies } from "../pipeline/apologies";
import { clearConversation, speakText } from "../pipeline/reply";
import { retryPolicy } from "../pipeline/retry";
import type { Services } from "../pipeline/services";
import { SttStream } from "../pipeline/stt-stream";
import { CLOSE_CODES, type Transport } from "../transport";
import type { Claimant, DeviceRegistry } from "./devices";
import { type ExchangeHost, FAILURE_MESSAGE, type Recording, runExchange, speakReply } from "./exchange";
import { MessageBudget } from "./message-budget";
import {
  type ErrorCode,
  type Input,
  nextState,
  nextUserState,
  type Output,
  onUserSpeech,
  type RerecordReason,
  type State,
  type TurnEvent,
  type UserEvent,
  type UserState,
} from "./model";
import { Outbox } from "./outbox";
import { PlaybackReady } from "./playback-ready";
import { InputResampler } from "./rates";
import { DiskQuotaError, RecordingBuffer } from "./recording-buffer";
import { sessionRecord } from "./session-record";
import { type FactListener, type SessionFact, sessionTelemetry } from "./telemetry";
import { QuietTimer } from "./turn-detectors";
import { VadTurns } from "./vad-turns";
import { WakeWords } from "./wake-words";

export interface SessionDeps {
  cfg: EdgeConfig;
  services: Services;
  apologies: Apologies;
  events: EventSink;
  metrics: EdgeMetrics;
  log: Logger;
  devices: DeviceRegistry<Session>;
  /** The pending-image pointers every replica sees (NATS KV). */
  images: PendingImages;
}

/** A device command refused by the session; `code` goes into CommandReply.error_code. */
export class CommandError extends Error {
  override name = "CommandError";
  constructor(
    readonly code: "busy" | "bad_request" | "failed",
    message: string,
  ) {
    super(message);
  }
}

const PARTIAL_INTERVAL_MS = 250;
const BUSY: readonly State[] = ["recording", "processing", "playing"];

/**
 * One device connection, in the dialect-independent model: the authoritative state machine,
 * the recording, and the pipeline of each utterance (STT stream → re-record policy → LLM with
 * history → TTS per sentence → the dialect's playback → the turn stored). Every input is
 * checked against the state; bad input is answered, never thrown.
 */
export class Session implements Claimant {
  readonly id = randomUUID();
  state: State = "connected";
  /** The user's side of the turn (model.ts): speaking or not, whatever the agent does. */
  user: UserState = "absent";
  deviceId: string | undefined;
  private utterances = 0;
  private rerecords = 0;
  private rec: Recording | undefined;
  private quiet: QuietTimer | undefined;
  private work: Promise<void> | undefined;
  private saving: Promise<void> = Promise.resolve();
  private abort = new AbortController();
  private readonly ready = new PlaybackReady();
  private idleWaiters: (() => void)[] = [];
  private closed = false;
  private draining = false;
  private lastPartial = { text: "", at: 0 };
  private readonly budget: MessageBudget;
  private readonly outbox: Outbox;
  private readonly log: Logger;
  /** PCM16 mono bytes per second of the dialect's reply audio. */
  private readonly bytesPerSecond: number;
  /** What this session's exchanges may use of it (session/exchange.ts). */
  private readonly host: ExchangeHost;
  /** The device's audio at its rate → the core's 16 kHz, once. */
  private readonly upstream: InputResampler;
  /** The server's end-pointing (the `vad` turn detector only). */
  private readonly vad: VadTurns | undefined;
  /** Wake-word spotting on the continuous stream (HOTPIN_EDGE_WAKE_WORDS), once the device is known. */
  private wake: WakeWords | undefined;
  /** Who hears the session's facts: its telemetry, then its storage record. */
  private readonly listeners: readonly FactListener[];

  constructor(
    private readonly deps: SessionDeps,
    readonly dialect: Dialect,
    private readonly transport: Transport,
    private readonly grant: Grant,
    private readonly remoteAddress: string,
  ) {
    this.budget = new MessageBudget(deps.cfg.maxMessagesPerSec);
    this.log = deps.log.child({ session: this.id, dialect: dialect.name });
    this.outbox = new Outbox(dialect, () => this.milestone());
    const session = this;
    const ids = {
      sessionId: this.id,
      dialect: dialect.name,
      get deviceId() {
        return session.deviceId;
      },
    };
    this.listeners = [
      sessionTelemetry(deps.events, deps.metrics, ids),
      sessionRecord(deps.services, deps.cfg, ids, this.log),
    ];
    const caps = dialect.capabilities;
    this.bytesPerSecond = caps.outputRate * 2;
    this.upstream = new InputResampler(caps.inputRate);
    if (caps.turn.endpointing === "server") {
      this.vad = new VadTurns(
        listenerOptions(deps.cfg, caps.bargeIn),
        (events) => this.listened(events),
        (err) => {
          this.log.error({ err: err.message }, "voice activity detector unavailable");
          this.transport.close("internal", "voice activity detector unavailable");
          this.end(CLOSE_CODES.internal, "vad unavailable");
        },
      );
    }
    this.host = {
      id: this.id,
      get deviceId() {
        return session.deviceId;
      },
      deps,
      log: this.log,
      outbox: this.outbox,
      outputRate: caps.outputRate,
      serverTurns: caps.turn.endpointing === "server",
      bytesPerSecond: this.bytesPerSecond,
      get closed() {
        return session.closed;
      },
      emit: (fact) => this.emit(fact),
      playbackStarted: () => this.vad?.playbackStarted(),
      milestone: () => this.milestone(),
      move: (event, message) => this.move(event, message),
      rerecord: (reason) => this.rerecord(reason),
      waitReady: (timeoutMs) => this.ready.wait(timeoutMs, this.abort.signal),
      previousTurnStored: () => this.saving,
      turnStored: (saving) => {
        this.rerecords = 0;
        this.saving = saving;
      },
    };
  }

  get utteranceCount(): number {
    return this.utterances;
  }

  get busy(): boolean {
    return BUSY.includes(this.state);
  }

  /** Says `ready` to a device that has not identified itself yet (spec clients that wait). */
  greet(): void {
    this.send({ type: "connected", deviceId: "", sessionId: this.id });
  }

  /** A device id known from the URL (spec `?session=`) identifies the device at once. */
  start(deviceId?: string): void {
    if (deviceId) this.identify(deviceId);
  }

  text(raw: string): void {
    if (!this.allowMessage()) return;
    const parsed = this.dialect.text(raw);
    if ("error" in parsed) this.protocolError(parsed.error.code, parsed.error.message);
    else for (const input of parsed.inputs) this.input(input);
  }

  binary(data: Buffer): void {
    if (!this.allowMessage()) return;
    const parsed = this.dialect.binary(data);
    if ("error" in parsed) this.protocolError(parsed.error.code, parsed.error.message);
    else for (const input of parsed.inputs) this.input(input);
  }

  /** A device that floods is told so and disconnected. */
  private allowMessage(): boolean {
    if (this.budget.take()) return true;
    if (!this.closed) {
      this.protocolError("rate_limited", `more than ${this.budget.rate} messages per second`);
      this.transport.close("policy", "rate limit");
      this.end();
    }
    return false;
  }

  private input(input: Input): void {
    if (this.closed) return;
    if (input.type === "hello" && this.state === "connected") {
      const id = input.deviceId ?? this.deviceId;
      if (!id) {
        this.protocolError("bad_message", "hello needs a session (device id)");
        return;
      }
      this.identify(id);
      return;
    }
    if (input.type === "audio") {
      const caps = this.dialect.capabilities;
      const pcm = this.upstream.push(input.pcm);
      if (caps.turn.endpointing === "server") {
        this.listen(pcm, input.seq);
        return;
      }
      input = { ...input, pcm };
      if (caps.turn.startsOnAudio && nextState(this.state, "start_recording")) this.beginRecording(false);
      else if (caps.lateAudio === "drop" && (this.state === "processing" || this.state === "playing")) return;
    }
    const to = nextState(this.state, input.type);
    if (!to) {
      this.protocolError("illegal_state", `${input.type} is not allowed while ${this.state}`);
      this.sendState();
      return;
    }
    switch (input.type) {
      case "hello":
        if (this.deviceId) this.send({ type: "connected", deviceId: this.deviceId, sessionId: this.id });
        return;
      case "client_on":
      case "ping":
        if (input.type === "ping") this.send({ type: "pong" });
        else this.sendState();
        return;
      case "start_recording":
        // On a VAD session the device takes this turn itself (xiaozhi manual mode): until its stop.
        this.beginRecording(this.vad !== undefined);
        return;
      case "abort":
        this.interrupt("device");
        return;
      case "wake_word":
        // The device's own detection (xiaozhi `listen detect`): telemetry cleans and bounds its text.
        this.emit({ type: "device_wake_word", word: input.word });
        // With HOTPIN_EDGE_WAKE_WORDS=required, the device's own detection answers the turn as the server's would.
        this.wake?.heard();
        return;
      case "audio":
        this.addAudio(input.pcm, input.seq);
        return;
      case "stop_recording":
        this.stopRecording();
        return;
      case "image_captured":
        this.move("image_captured", "Waiting for the image upload");
        return;
      case "ready_for_playback":
        this.ready.set();
        return;
      case "playback_complete":
        return;
      case "reset":
        this.dropRecording();
        this.rerecords = 0;
        this.move("reset", "Reset");
        this.send({ type: "reset_complete" });
        return;
      case "reset_conversation":
        this.resetConversation().catch(() => undefined);
        return;
    }
  }

  private identify(deviceId: string): void {
    if (!isValidDeviceId(deviceId)) {
      // Dialects and the URL check already; an id reaching subjects, keys or storage is never unchecked.
      this.protocolError("bad_device_id", `a device id must be ${DEVICE_ID_RULE}`);
      this.transport.close("policy", "bad device id");
      this.end(CLOSE_CODES.policy, "bad device id");
      return;
    }
    if (!grantCovers(this.grant, deviceId)) {
      this.emit({ type: "refused", reason: "wrong_device" });
      this.protocolError("unauthorized", "the token is not valid for this device");
      this.transport.close("unauthorized", "token not valid for this device");
      this.end();
      return;
    }
    this.deviceId = deviceId;
    this.log.info({ device: deviceId }, "device connected");
    this.deps.devices.claim(deviceId, this);
    this.emit({ type: "connected", remoteAddress: this.remoteAddress });
    this.state = this.next("identified"); // announced by `connected` and the state below
    this.startWakeWords(deviceId);
    this.userMoves("identified");
    void this.sendConfirmed({ type: "connected", deviceId, sessionId: this.id });
    this.sendState();
    if (this.deps.devices.takeInterrupted(deviceId)) this.rerecord("disconnected");
  }

  /** Spotting runs where the server takes the turns (a device that detects its own says `detect`). */
  private startWakeWords(deviceId: string): void {
    const { cfg, services, events } = this.deps;
    if (!this.vad || cfg.wakeWords === "off") return;
    this.wake = new WakeWords({
      mode: cfg.wakeWords,
      windowMs: cfg.wakeWindowMs,
      graceMs: cfg.wakeGraceMs,
      stt: services.stt,
      deviceId,
      sessionId: this.id,
      events,
      retry: retryPolicy(cfg),
      log: this.log,
      onHeard: () => this.emit({ type: "server_wake_word" }),
    });
  }

  /** Audio of a session whose turns the server decides: the VAD's, or a manual turn's as it is. */
  private listen(pcm: Buffer, seq: number | undefined): void {
    if (this.state === "connected" || pcm.length === 0) return;
    this.wake?.write(pcm);
    if (this.rec?.manual) this.addAudio(pcm, seq);
    else this.vad?.push(pcm);
  }

  /** The listener's turn events (packages/vad README), in order. */
  private listened(events: ListenerEvent[]): void {
    for (const e of events) {
      if (this.closed) return;
      const vadTurn = this.rec !== undefined && !this.rec.manual;
      switch (e.type) {
        case "barge-in":
          this.interrupt("barge_in");
          break;
        case "start": {
          this.userMoves("speech_started");
          const action = onUserSpeech(this.state, this.dialect.capabilities.bargeIn);
          if (action === "interrupt") this.interrupt("barge_in");
          if (action === "ignore" || !nextState(this.state, "start_recording")) break;
          // The pre-roll and the frames that decided the start: the first syllable is kept.
          if (this.beginRecording(false)) this.addAudio(e.audio, undefined);
          break;
        }
        case "audio":
          if (vadTurn) this.addAudio(e.audio, undefined);
          break;
        case "end":
          this.userMoves("speech_ended");
          if (vadTurn && this.state === "recording") {
            this.log.debug({ reason: e.reason, speechMs: e.speechMs }, "end of speech");
            this.endVadTurn();
          }
          break;
        case "discard":
          this.userMoves("speech_ended");
          if (vadTurn) {
            this.dropRecording();
            this.move("speech_discarded", "Listening");
          }
          break;
      }
    }
  }

  /** The VAD ended the turn: it is answered, unless wake words are required and none was heard. */
  private endVadTurn(): void {
    const rec = this.rec;
    if (!this.wake?.required || this.wake.recent()) {
      this.stopRecording();
      return;
    }
    void this.wake.late().then((answer) => {
      if (this.closed || this.rec !== rec || this.state !== "recording") return;
      if (answer) {
        this.stopRecording();
        return;
      }
      this.log.debug("turn without a wake word dropped");
      this.emit({ type: "utterance_ended", outcome: "no_wake_word" });
      this.dropRecording();
      this.move("speech_discarded", "Listening");
    });
  }

  private userMoves(event: UserEvent): void {
    this.user = nextUserState(this.user, event);
  }

  /**
   * The reply being prepared or spoken is cut off (barge-in, or the device's abort): its LLM and
   * TTS calls and its paced audio stop on the exchange's signal, the device is told at once, and
   * the exchange stores the turn as interrupted. The user's new turn, if any, starts right after.
   */
  private interrupt(by: "barge_in" | "device"): void {
    if (this.state !== "processing" && this.state !== "playing") return;
    this.abort.abort();
    this.emit({ type: "interrupted", by });
    this.log.info({ by }, "reply interrupted");
    this.send({ type: "interrupted", by });
    this.move("interrupted", "Listening");
  }

  /** Starts a recording; false when the server refuses one now (draining). */
  private beginRecording(manual: boolean): boolean {
    if (this.draining) {
      this.protocolError("shutting_down", "the server is restarting; reconnect");
      return false;
    }
    if (manual) this.vad?.reset();
    const deviceId = this.deviceId ?? "";
    const utterance = ++this.utterances;
    const span = tracer().startSpan("edge.utterance", {
      attributes: {
        [Attr.deviceId]: deviceId,
        [Attr.sessionId]: this.id,
        [Attr.dialect]: this.dialect.name,
        [Attr.utterance]: utterance,
      },
    });
    const ctx = trace.setSpan(context.active(), span);
    this.abort = new AbortController();
    this.ready.clear();
    this.lastPartial = { text: "", at: 0 };
    const buffer = new RecordingBuffer({
      memoryBytes: this.deps.cfg.memoryAudioBytes,
      dir: this.deps.cfg.spillDir,
      diskQuotaBytes: this.deps.cfg.sessionDiskBytes,
    });
    const { cfg } = this.deps;
    const stt = context.with(
      ctx,
      () =>
        new SttStream(this.deps.services.stt, {
          deviceId,
          sessionId: this.id,
          partials: this.dialect.capabilities.partials,
          onPartial: (text) => this.partial(text),
          recording: buffer,
          retry: retryPolicy(cfg),
          onRefused: (call) => this.emit({ type: "service_refused", service: "stt", call }),
          onRetry: (call) => this.emit({ type: "service_retried", service: "stt", call }),
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
      signal: this.abort.signal,
      manual,
    };
    this.move("start_recording", "Recording");
    this.emit({ type: "recording_started", utterance });
    this.quiet = this.watchQuiet();
    return true;
  }

  private addAudio(pcm: Buffer, seq: number | undefined): void {
    const rec = this.rec;
    if (!rec) return;
    if (seq !== undefined && rec.lastSeq !== undefined) {
      if (seq <= rec.lastSeq) {
        this.log.debug({ seq }, "duplicate chunk dropped");
        return;
      }
      const gap = seq - rec.lastSeq - 1;
      if (gap > this.deps.cfg.maxSeqGap) {
        this.log.warn({ gap }, "too many chunks lost");
        this.dropRecording();
        this.rerecord("chunks_lost");
        return;
      }
      if (gap > 0) this.log.info({ gap }, "chunks missing, continuing");
    }
    if (seq !== undefined) rec.lastSeq = seq;
    if (pcmDurationMs(rec.bytes + pcm.length) > this.deps.cfg.maxRecordingMs) {
      if (this.dialect.capabilities.announcesState) {
        this.protocolError("recording_too_long", `recordings are cut at ${this.deps.cfg.maxRecordingMs} ms`);
      }
      this.stopRecording();
      return;
    }
    let spilledBytes = 0;
    try {
      const spilled = rec.buffer.spilledBytes;
      rec.buffer.append(pcm);
      spilledBytes = rec.buffer.spilledBytes - spilled;
    } catch (err) {
      if (!(err instanceof DiskQuotaError)) throw err;
      this.protocolError("disk_quota", "the recording exceeds this session's disk quota");
      this.stopRecording();
      return;
    }
    rec.stt.write(pcm);
    rec.chunks++;
    rec.bytes += pcm.length;
    this.emit({ type: "audio_in", bytes: pcm.length, spilledBytes });
    // ACK at once, from the socket's own callback: the firmware gives up after 1000 ms.
    if (rec.chunks % this.deps.cfg.ackEvery === 0) {
      this.send({ type: "ack", chunks: rec.chunks, bytes: rec.bytes, ...(seq !== undefined ? { seq } : {}) });
    }
    this.quiet?.touch();
  }

  private partial(text: string): void {
    const now = Date.now();
    if (!text || text === this.lastPartial.text || now - this.lastPartial.at < PARTIAL_INTERVAL_MS) return;
    this.lastPartial = { text, at: now };
    if (this.state !== "recording" && this.state !== "processing") return;
    this.send({ type: "partial", text });
    this.emit({ type: "partial", utterance: this.utterances, text });
  }

  /** The dialect's turn detector decides what a recording that goes quiet means. */
  private watchQuiet(): QuietTimer {
    const { ms, decision } = this.dialect.capabilities.turn.quiet(this.deps.cfg);
    return new QuietTimer(ms, () => {
      if (this.state !== "recording") return;
      if (decision === "process") {
        this.log.info("recording went quiet, processing what arrived");
        this.stopRecording();
      } else if (decision === "stall") {
        this.log.info("recording stalled");
        this.dropRecording();
        this.move("recording_stalled", "Audio stopped arriving");
        this.rerecord("stalled");
      } else {
        this.log.info("transfer stalled, closing");
        this.emit({ type: "transfer_timeout" });
        this.transport.close("policy", "transfer timeout");
        this.end(CLOSE_CODES.policy, "transfer timeout");
      }
    });
  }

  private stopRecording(): void {
    this.quiet?.stop();
    const rec = this.rec;
    if (!rec) return;
    this.rec = undefined;
    rec.stoppedAt = Date.now();
    this.move("stop_recording", "Processing your request");
    this.send({ type: "processing" });
    const { utterance, chunks, bytes, span } = rec;
    this.emit({ type: "recording_stopped", utterance, chunks, bytes, durationMs: pcmDurationMs(bytes), span });
    const work = context.with(rec.ctx, () => runExchange(this.host, rec));
    this.work = work.finally(() => {
      rec.span.end();
      if (this.work === tracked) this.work = undefined;
    });
    const tracked = this.work;
  }

  /** Abandons the recording in progress (reset, stall, lost chunks, disconnect). */
  private dropRecording(): void {
    this.quiet?.stop();
    const rec = this.rec;
    if (!rec) return;
    this.rec = undefined;
    rec.stt.cancel();
    void rec.buffer.dispose();
    rec.span.end();
  }

  /** The seed's server-led recovery: ask again, at most maxRerecords times, then a person must act. */
  private rerecord(reason: RerecordReason): void {
    this.rerecords++;
    const utterance = this.utterances;
    if (this.rerecords > this.deps.cfg.maxRerecords) {
      this.rerecords = 0;
      this.emit({ type: "rerecord", utterance, reason, attempt: this.rerecords, intervention: true });
      void this.sendConfirmed({ type: "intervention", message: "Too many re-recording attempts" });
      this.move("intervention", "Waiting for the user");
      return;
    }
    this.emit({ type: "rerecord", utterance, reason, attempt: this.rerecords, intervention: false });
    void this.sendConfirmed({ type: "rerecord", reason, attempt: this.rerecords });
    this.move("rerecord", "Please record again");
  }

  /**
   * The reducer's next state for an event the session raises; one it refuses is a bug in the
   * session, logged, and the state stays.
   */
  private next(event: TurnEvent): State {
    const to = nextState(this.state, event);
    if (to) return to;
    this.log.error({ event, state: this.state }, "illegal internal transition");
    return this.state;
  }

  /** Moves through the reducer, then tells the subscribers (event, state announcement, drain). */
  private move(event: TurnEvent, message: string): void {
    if (this.closed) return;
    this.setState(this.next(event), message);
  }

  private setState(to: State, message: string): void {
    if (this.closed || to === this.state) return;
    const from = this.state;
    this.state = to;
    this.emit({ type: "state_changed", from, to });
    if (this.dialect.capabilities.announcesState) this.send({ type: "state", state: to, message });
    if (!this.busy) for (const w of this.idleWaiters.splice(0)) w();
    // Last: an utterance the listener held back during the reply may start a turn now.
    if (from === "playing") this.vad?.playbackEnded();
  }

  private sendState(): void {
    if (this.dialect.capabilities.announcesState) this.send({ type: "state", state: this.state, message: "" });
  }

  private protocolError(code: ErrorCode, message: string): void {
    this.log.info({ code }, "protocol error");
    this.emit({ type: "protocol_error", code, message });
    this.send({ type: "error", code, message });
  }

  private send(out: Output): void {
    this.outbox.send(out);
  }

  /**
   * Waits (at most HOTPIN_EDGE_EVENT_CONFIRM_TIMEOUT_MS) until every event published so far is
   * stored in JetStream. Past the bound (NATS unreachable) the device is served anyway and the
   * events stay in the buffer: a crash of this process in that window loses them.
   */
  private async milestone(): Promise<void> {
    const started = performance.now();
    const ok = await this.deps.events.confirm(this.deps.cfg.eventConfirmTimeoutMs);
    this.emit({ type: "events_confirmed", ok, seconds: (performance.now() - started) / 1000 });
  }

  /** A message that proves events happened: sent once they are stored (bounded), in order. */
  private sendConfirmed(out: Output): Promise<void> {
    return this.outbox.confirmed(out);
  }

  private emit(fact: SessionFact): void {
    for (const listener of this.listeners) listener(fact);
  }

  /** An image for this device was stored (here or on another replica). */
  imageReceived(): void {
    if (this.closed) return;
    this.send({ type: "image_received" });
    if (nextState(this.state, "image_received")) this.move("image_received", "Image received");
  }

  /** Starts the conversation over: history and any pending image are forgotten everywhere. */
  async resetConversation(): Promise<void> {
    const deviceId = this.deviceId;
    if (!deviceId) throw new CommandError("bad_request", "the device has not identified itself");
    try {
      await this.saving; // a turn still being stored must not come back after the reset
      await clearConversation(this.deps.services, deviceId, this.deps.cfg.storageTimeoutMs);
      await this.deps.images.clear(deviceId).catch(() => undefined);
    } catch (err) {
      this.protocolError("storage_failed", "the conversation could not be reset; try again");
      throw new CommandError("failed", `storage: ${(err as Error).message}`);
    }
    this.send({ type: "conversation_reset" });
  }

  /** What the `state` command reports. */
  snapshot(): edge.DeviceState {
    return edge.DeviceState.fromPartial({
      deviceId: this.deviceId ?? "",
      sessionId: this.id,
      dialect: this.dialect.name,
      state: this.state,
      edgeInstance: this.deps.cfg.instance,
      utterances: this.utterances,
    });
  }

  /** The `say` command: speaks the text now when the device is not in an exchange. */
  async say(text: string): Promise<void> {
    if (this.closed || !this.deviceId) throw new CommandError("busy", "the device is not connected");
    if (this.busy || this.state === "connected") throw new CommandError("busy", `the device is ${this.state}`);
    const { services, cfg } = this.deps;
    const utterance = this.utterances;
    const reply = speakText(services, {
      deviceId: this.deviceId,
      sessionId: this.id,
      text,
      ttsTimeoutMs: cfg.ttsTimeoutMs,
      maxBytes: (cfg.maxReplyMs * this.bytesPerSecond) / 1000,
      sampleRateHz: this.dialect.capabilities.outputRate,
    });
    const abort = () => reply.cancel();
    const signal = this.abort.signal;
    signal.addEventListener("abort", abort, { once: true });
    this.ready.clear();
    const span = tracer().startSpan("edge.say", { attributes: { [Attr.sessionId]: this.id } });
    this.move("reply_started", "Speaking");
    this.send({ type: "answer", text });
    try {
      // An exchange that starts at the reply: the same path as an answer's.
      const result = await speakReply(this.host, reply, { utterance, span, stoppedAt: Date.now(), signal }, () => {});
      if (!result || result.outcome === "aborted") throw new CommandError("failed", "playback was cut off");
    } catch (err) {
      reply.cancel();
      if (err instanceof CommandError) throw err;
      recordFailure(span, err as Error);
      this.send({ type: "error", code: "tts_failed", message: FAILURE_MESSAGE.tts_failed ?? "" });
      throw new CommandError("failed", (err as Error).message);
    } finally {
      span.end();
      signal.removeEventListener("abort", abort);
      // An interrupted `say` has left the state to the turn that interrupted it.
      if (!signal.aborted) this.move("reply_done", "Ready");
    }
  }

  /** The `rerecord` command: asks the device to record again (when it is not in an exchange). */
  requestRerecord(): void {
    if (this.busy || this.state === "connected" || this.closed) {
      throw new CommandError("busy", `the device is ${this.state}`);
    }
    const utterance = this.utterances;
    this.emit({ type: "rerecord", utterance, reason: "operator", attempt: 1, intervention: false });
    void this.sendConfirmed({ type: "rerecord", reason: "operator", attempt: 1 });
    this.move("rerecord", "Please record again");
  }

  /** The `disconnect` command: closes the socket (1000); the device may reconnect. */
  disconnect(reason: string): void {
    this.transport.close("normal", cleanText(reason, MAX_CLOSE_REASON_BYTES) || "disconnected by an operator");
    this.end(1000, "disconnected by an operator");
  }

  /** Another connection took this device: tell this one and close it. */
  replace(): void {
    if (this.closed) return;
    this.send({ type: "error", code: "replaced", message: "another connection took over this device" });
    this.transport.close("replaced", "replaced by a new connection");
    this.end(CLOSE_CODES.replaced, "replaced");
  }

  /** Resolves when no utterance is in flight (for a graceful drain). */
  whenIdle(): Promise<void> {
    if (!this.busy) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** SIGTERM: refuse new recordings, let the current utterance finish (the caller bounds the wait). */
  async drain(): Promise<void> {
    this.draining = true;
    await this.whenIdle();
    await this.outbox.idle();
  }

  /** The socket closed (or is being closed): release everything this session holds. */
  end(code = 1000, reason = ""): void {
    if (this.closed) return;
    if (this.state === "recording" && this.deviceId) this.deps.devices.markInterrupted(this.deviceId);
    const wasRecording = this.state === "recording";
    this.dropRecording();
    this.abort.abort();
    this.emit({ type: "disconnected", code, reason, wasRecording });
    this.closed = true;
    this.user = nextUserState(this.user, "closed");
    this.vad?.free();
    this.wake?.stop();
    this.outbox.close();
    this.dialect.dispose?.();
    this.state = nextState(this.state, "closed") ?? "shutdown";
    for (const w of this.idleWaiters.splice(0)) w();
    if (!this.deviceId) return;
    this.deps.devices.release(this.deviceId, this);
  }
}
