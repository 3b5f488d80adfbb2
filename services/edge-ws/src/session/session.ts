import type { edge } from "@hotpin/contracts";
import type { Logger } from "@hotpin/runtime";
import type { Grant } from "../auth";
import type { EdgeConfig } from "../config";
import type { Dialect, Parsed } from "../dialects/dialect";
import type { EventSink } from "../events";
import type { PendingImages } from "../images/pending-images";
import type { EdgeMetrics } from "../metrics";
import type { Apologies } from "../pipeline/apologies";
import type { Services } from "../pipeline/services";
import { CLOSE_CODES, type Transport } from "../transport";
import { DeviceCommands } from "./device-commands";
import type { Claimant, DeviceRegistry } from "./devices";
import { identify } from "./identification";
import { MessageBudget } from "./message-budget";
import { type Input, nextState, type State } from "./model";
import { InputResampler } from "./rates";
import { Recorder } from "./recording";
import { ServerTurns } from "./server-turns";
import { SessionCore } from "./session-core";

export { CommandError } from "./device-commands";

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

/**
 * One device connection, in the dialect-independent model. This class wires the parts: the core
 * (state through the reducer, the outbox, facts, session-core.ts), the recorder (recording.ts),
 * the server's turns on a VAD session (server-turns.ts), identification (identification.ts), the
 * exchanges (exchange.ts) and the operator's commands (device-commands.ts); and dispatches each
 * input the dialect parses, checked against the state. Bad input is answered, never thrown.
 */
export class Session implements Claimant {
  private readonly core: SessionCore;
  private readonly recorder: Recorder;
  /** The server's end-pointing (the `vad` turn detector only). */
  private readonly serverTurns: ServerTurns | undefined;
  private readonly commands: DeviceCommands;
  private readonly budget: MessageBudget;
  /** The device's audio at its rate → the core's 16 kHz, once. */
  private readonly upstream: InputResampler;

  constructor(
    deps: SessionDeps,
    readonly dialect: Dialect,
    transport: Transport,
    private readonly grant: Grant,
  ) {
    const core = new SessionCore(
      deps,
      dialect,
      transport,
      (from) => {
        if (from === "playing") this.serverTurns?.playbackEnded();
      },
      (code, reason) => this.end(code, reason),
    );
    this.core = core;
    this.budget = new MessageBudget(deps.cfg.maxMessagesPerSec);
    this.upstream = new InputResampler(dialect.capabilities.inputRate);
    const host = core.exchangeHost({
      rerecord: (reason) => this.recorder.rerecord(reason),
      answered: () => this.recorder.answered(),
      playbackStarted: () => this.serverTurns?.playbackStarted(),
    });
    this.recorder = new Recorder(core, host, () => this.serverTurns?.manualTurn());
    if (host.serverTurns) this.serverTurns = new ServerTurns(core, this.recorder);
    this.commands = new DeviceCommands(core, this.recorder, host);
  }

  get id(): string {
    return this.core.id;
  }

  get deviceId(): string | undefined {
    return this.core.deviceId;
  }

  get state(): State {
    return this.core.state;
  }

  get busy(): boolean {
    return this.core.busy;
  }

  /** Says `ready` to a device that has not identified itself yet (spec clients that wait). */
  greet(): void {
    this.core.send({ type: "connected", deviceId: "", sessionId: this.core.id });
  }

  /** A device id known from the URL (spec `?session=`) identifies the device at once. */
  start(deviceId?: string): void {
    if (deviceId) this.identify(deviceId);
  }

  text(raw: string): void {
    if (this.allowMessage()) this.parsed(this.dialect.text(raw));
  }

  binary(data: Buffer): void {
    if (this.allowMessage()) this.parsed(this.dialect.binary(data));
  }

  /** A device that floods is told so and disconnected. */
  private allowMessage(): boolean {
    if (this.budget.take()) return true;
    if (!this.core.closed) {
      this.core.protocolError("rate_limited", `more than ${this.budget.rate} messages per second`);
      this.core.hangUp("policy", "rate limit");
    }
    return false;
  }

  private parsed(parsed: Parsed): void {
    if ("error" in parsed) this.core.protocolError(parsed.error.code, parsed.error.message);
    else for (const input of parsed.inputs) this.input(input);
  }

  private input(input: Input): void {
    const { core, recorder } = this;
    if (core.closed) return;
    if (input.type === "hello" && core.state === "connected") {
      const id = input.deviceId ?? core.deviceId;
      if (id) this.identify(id);
      else core.protocolError("bad_message", "hello needs a session (device id)");
      return;
    }
    if (input.type === "audio") {
      const pcm = this.upstream.push(input.pcm);
      if (this.serverTurns) {
        this.serverTurns.listen(pcm, input.seq);
        return;
      }
      input = { ...input, pcm };
      if (core.caps.turn.startsOnAudio && nextState(core.state, "start_recording")) recorder.begin(false);
      else if (core.caps.lateAudio === "drop" && (core.state === "processing" || core.state === "playing")) return;
    }
    if (!nextState(core.state, input.type)) {
      core.protocolError("illegal_state", `${input.type} is not allowed while ${core.state}`);
      core.sendState();
      return;
    }
    switch (input.type) {
      case "hello":
        if (core.deviceId) core.send({ type: "connected", deviceId: core.deviceId, sessionId: core.id });
        return;
      case "client_on":
        core.sendState();
        return;
      case "ping":
        core.send({ type: "pong" });
        return;
      case "start_recording":
        // On a VAD session the device takes this turn itself (xiaozhi manual mode): until its stop.
        recorder.begin(this.serverTurns !== undefined);
        return;
      case "abort":
        core.interrupt("device");
        return;
      case "wake_word":
        // The device's own detection (xiaozhi `listen detect`): telemetry cleans and bounds its text.
        core.emit({ type: "device_wake_word", word: input.word });
        // With HOTPIN_EDGE_WAKE_WORDS=required, the device's own detection answers the turn as the server's would.
        this.serverTurns?.deviceHeardWakeWord();
        return;
      case "audio":
        recorder.add(input.pcm, input.seq);
        return;
      case "stop_recording":
        recorder.stop();
        return;
      case "image_captured":
        core.move("image_captured", "Waiting for the image upload");
        return;
      case "ready_for_playback":
        core.ready.set();
        return;
      case "playback_complete":
        return;
      case "reset":
        recorder.drop();
        recorder.answered();
        core.move("reset", "Reset");
        core.send({ type: "reset_complete" });
        return;
      case "reset_conversation":
        this.commands.resetConversation().catch(() => undefined);
        return;
    }
  }

  private identify(deviceId: string): void {
    const { grant, recorder, serverTurns } = this;
    identify(this.core, deviceId, { grant, claimant: this, recorder, serverTurns });
  }

  /** An image for this device was stored (here or on another replica). */
  imageReceived(): void {
    if (this.core.closed) return;
    this.core.send({ type: "image_received" });
    if (nextState(this.core.state, "image_received")) this.core.move("image_received", "Image received");
  }

  say(text: string): Promise<void> {
    return this.commands.say(text);
  }

  requestRerecord(): void {
    this.commands.requestRerecord();
  }

  disconnect(reason: string): void {
    this.commands.disconnect(reason);
  }

  resetConversation(): Promise<void> {
    return this.commands.resetConversation();
  }

  snapshot(): edge.DeviceState {
    return this.commands.snapshot();
  }

  /** Another connection took this device: tell this one and close it. */
  replace(): void {
    if (this.core.closed) return;
    this.core.send({ type: "error", code: "replaced", message: "another connection took over this device" });
    this.core.hangUp("replaced", "replaced by a new connection", CLOSE_CODES.replaced, "replaced");
  }

  /** SIGTERM: refuse new recordings, let the current utterance finish (the caller bounds the wait). */
  async drain(): Promise<void> {
    this.core.draining = true;
    await this.core.whenIdle();
    await this.core.outbox.idle();
  }

  /** The socket closed (or is being closed): release everything this session holds. */
  end(code = 1000, reason = ""): void {
    const core = this.core;
    if (core.closed) return;
    const wasRecording = core.state === "recording";
    if (wasRecording && core.deviceId) core.deps.devices.markInterrupted(core.deviceId);
    this.recorder.drop();
    core.abort.abort();
    core.emit({ type: "disconnected", code, reason, wasRecording });
    core.closed = true;
    core.userMoves("closed");
    this.serverTurns?.free();
    core.outbox.close();
    this.dialect.dispose?.();
    core.state = nextState(core.state, "closed") ?? "shutdown";
    core.settleIdle();
    if (core.deviceId) core.deps.devices.release(core.deviceId, this);
  }
}
