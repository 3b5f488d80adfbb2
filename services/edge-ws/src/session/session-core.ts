import { randomUUID } from "node:crypto";
import type { Logger } from "@hotpin/runtime";
import type { Capabilities, Dialect } from "../dialects/dialect";
import { CLOSE_CODES, type CloseReason, type Transport } from "../transport";
import type { ExchangeHost } from "./exchange";
import {
  type ErrorCode,
  nextState,
  nextUserState,
  type Output,
  type State,
  type TurnEvent,
  type UserEvent,
  type UserState,
} from "./model";
import { Outbox } from "./outbox";
import { PlaybackReady } from "./playback-ready";
import type { SessionDeps } from "./session";
import { type FactListener, type SessionFact, sessionTelemetry } from "./telemetry";

const BUSY: readonly State[] = ["recording", "processing", "playing"];

/**
 * A session's state and its ways out, shared by its parts (recording, server turns,
 * identification, commands, exchanges): the reducer's moves and what follows them, the outbox,
 * facts for the subscribers, the current exchange's signal, and closing.
 */
export class SessionCore {
  readonly id = randomUUID();
  state: State = "connected";
  /** The user's side of the turn (model.ts): speaking or not, whatever the agent does. */
  user: UserState = "absent";
  deviceId: string | undefined;
  closed = false;
  /** SIGTERM: no new recordings. */
  draining = false;
  /** The current exchange's: a new one per recording; aborted by an interruption and by the end. */
  abort = new AbortController();
  readonly ready = new PlaybackReady();
  /** The last replied turn being stored: the next exchange and a reset wait for it. */
  saving: Promise<void> = Promise.resolve();
  readonly log: Logger;
  readonly outbox: Outbox;
  readonly caps: Capabilities;
  /** PCM16 mono bytes per second of the dialect's reply audio. */
  readonly bytesPerSecond: number;
  private idleWaiters: (() => void)[] = [];
  /**
   * Who hears the session's facts: its telemetry (NATS events, metrics, span marks). Storage records
   * the session itself from the connected and disconnected events (storage events/to-rows.ts).
   */
  private readonly telemetry: FactListener;

  constructor(
    readonly deps: SessionDeps,
    readonly dialect: Dialect,
    readonly transport: Transport,
    /** Told of every state change, after the subscribers (the VAD's held-back utterance). */
    private readonly changed: (from: State) => void,
    /** Ends the session (Session.end): what a close through `hangUp` does after the transport. */
    private readonly end: (code: number, reason: string) => void,
  ) {
    this.log = deps.log.child({ session: this.id, dialect: dialect.name });
    this.outbox = new Outbox(dialect, () => this.milestone());
    this.caps = dialect.capabilities;
    this.bytesPerSecond = this.caps.outputRate * 2;
    const core = this;
    const ids = {
      sessionId: this.id,
      dialect: dialect.name,
      get deviceId() {
        return core.deviceId;
      },
    };
    this.telemetry = sessionTelemetry(deps.events, deps.metrics, ids);
  }

  get busy(): boolean {
    return BUSY.includes(this.state);
  }

  /**
   * The reducer's next state for an event the session raises; one it refuses is a bug in the
   * session, logged, and the state stays.
   */
  next(event: TurnEvent): State {
    const to = nextState(this.state, event);
    if (to) return to;
    this.log.error({ event, state: this.state }, "illegal internal transition");
    return this.state;
  }

  /** Moves through the reducer, then tells the subscribers (event, state announcement, drain). */
  move(event: TurnEvent, message: string): void {
    if (this.closed) return;
    const to = this.next(event);
    if (to === this.state) return;
    const from = this.state;
    this.state = to;
    this.emit({ type: "state_changed", from, to });
    if (this.caps.announcesState) this.send({ type: "state", state: to, message });
    if (!this.busy) this.settleIdle();
    // Last: an utterance the listener held back during the reply may start a turn now.
    this.changed(from);
  }

  userMoves(event: UserEvent): void {
    this.user = nextUserState(this.user, event);
  }

  sendState(): void {
    if (this.caps.announcesState) this.send({ type: "state", state: this.state, message: "" });
  }

  protocolError(code: ErrorCode, message: string): void {
    this.log.info({ code }, "protocol error");
    this.emit({ type: "protocol_error", code, message });
    this.send({ type: "error", code, message });
  }

  send(out: Output): void {
    this.outbox.send(out);
  }

  /** A message that proves events happened: sent once they are stored (bounded), in order. */
  sendConfirmed(out: Output): Promise<void> {
    return this.outbox.confirmed(out);
  }

  /**
   * Waits (at most HOTPIN_EDGE_EVENT_CONFIRM_TIMEOUT_MS) until every event published so far is
   * stored in JetStream. Past the bound (NATS unreachable) the device is served anyway and the
   * events stay in the buffer: a crash of this process in that window loses them.
   */
  async milestone(): Promise<void> {
    const started = performance.now();
    const ok = await this.deps.events.confirm(this.deps.cfg.eventConfirmTimeoutMs);
    this.emit({ type: "events_confirmed", ok, seconds: (performance.now() - started) / 1000 });
  }

  emit(fact: SessionFact): void {
    this.telemetry(fact);
  }

  /**
   * The reply being prepared or spoken is cut off (barge-in, or the device's abort): its LLM and
   * TTS calls and its paced audio stop on the exchange's signal, the device is told at once, and
   * the exchange stores the turn as interrupted. The user's new turn, if any, starts right after.
   */
  interrupt(by: "barge_in" | "device"): void {
    if (this.state !== "processing" && this.state !== "playing") return;
    this.abort.abort();
    this.emit({ type: "interrupted", by });
    this.log.info({ by }, "reply interrupted");
    this.send({ type: "interrupted", by });
    this.move("interrupted", "Listening");
  }

  /** The server closes the connection: the transport says `reason` its way, the session ends with `code`. */
  hangUp(reason: CloseReason, text: string, code: number = CLOSE_CODES.normal, why = ""): void {
    this.transport.close(reason, text);
    this.end(code, why);
  }

  /** What this session's exchanges may use of it (session/exchange.ts); the rest is the session's parts'. */
  exchangeHost(parts: Pick<ExchangeHost, "rerecord" | "playbackStarted"> & { answered(): void }): ExchangeHost {
    const core = this;
    return {
      id: this.id,
      get deviceId() {
        return core.deviceId;
      },
      deps: this.deps,
      log: this.log,
      outbox: this.outbox,
      outputRate: this.caps.outputRate,
      serverTurns: this.caps.turn.endpointing === "server",
      bytesPerSecond: this.bytesPerSecond,
      get closed() {
        return core.closed;
      },
      emit: (fact) => this.emit(fact),
      milestone: () => this.milestone(),
      move: (event, message) => this.move(event, message),
      waitReady: (timeoutMs) => this.ready.wait(timeoutMs, this.abort.signal),
      previousTurnStored: () => this.saving,
      turnStored: (saving) => {
        parts.answered();
        this.saving = saving;
      },
      rerecord: parts.rerecord,
      playbackStarted: parts.playbackStarted,
    };
  }

  /** Resolves when no utterance is in flight (for a graceful drain). */
  whenIdle(): Promise<void> {
    if (!this.busy) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  settleIdle(): void {
    for (const w of this.idleWaiters.splice(0)) w();
  }
}
