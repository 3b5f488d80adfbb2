import { edge } from "@hotpin/contracts";
import { Attr, cleanText, MAX_CLOSE_REASON_BYTES, recordFailure, tracer } from "@hotpin/runtime";
import { clearConversation, speakText } from "../pipeline/reply";
import { type ExchangeHost, FAILURE_MESSAGE, speakReply } from "./exchange";
import { askAgain, type Recorder } from "./recording";
import type { SessionCore } from "./session-core";

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

/**
 * What an operator can do to a connected device (commands/command-server.ts): speak to it, ask
 * it to record again, disconnect it, start its conversation over, read its state. A command the
 * device cannot take now throws a CommandError.
 */
export class DeviceCommands {
  constructor(
    private readonly core: SessionCore,
    private readonly recorder: Recorder,
    private readonly host: ExchangeHost,
  ) {}

  /** `say`: speaks the text now when the device is not in an exchange. */
  async say(text: string): Promise<void> {
    const core = this.core;
    if (core.closed || !core.deviceId) throw new CommandError("busy", "the device is not connected");
    if (core.busy || core.state === "connected") throw new CommandError("busy", `the device is ${core.state}`);
    const { services, cfg } = core.deps;
    const utterance = this.recorder.utterances;
    const reply = speakText(services, {
      deviceId: core.deviceId,
      sessionId: core.id,
      text,
      ttsTimeoutMs: cfg.ttsTimeoutMs,
      maxBytes: (cfg.maxReplyMs * core.bytesPerSecond) / 1000,
      sampleRateHz: core.caps.outputRate,
    });
    const abort = () => reply.cancel();
    const signal = core.abort.signal;
    signal.addEventListener("abort", abort, { once: true });
    core.ready.clear();
    const span = tracer().startSpan("edge.say", { attributes: { [Attr.sessionId]: core.id } });
    core.move("reply_started", "Speaking");
    core.send({ type: "answer", text });
    try {
      // An exchange that starts at the reply: the same path as an answer's.
      const result = await speakReply(this.host, reply, { utterance, span, stoppedAt: Date.now(), signal }, () => {});
      if (!result || result.outcome === "aborted") throw new CommandError("failed", "playback was cut off");
    } catch (err) {
      reply.cancel();
      if (err instanceof CommandError) throw err;
      recordFailure(span, err as Error);
      core.send({ type: "error", code: "tts_failed", message: FAILURE_MESSAGE.tts_failed ?? "" });
      throw new CommandError("failed", (err as Error).message);
    } finally {
      span.end();
      signal.removeEventListener("abort", abort);
      // An interrupted `say` has left the state to the turn that interrupted it.
      if (!signal.aborted) core.move("reply_done", "Ready");
    }
  }

  /** `rerecord`: asks the device to record again (when it is not in an exchange). */
  requestRerecord(): void {
    const core = this.core;
    if (core.busy || core.state === "connected" || core.closed) {
      throw new CommandError("busy", `the device is ${core.state}`);
    }
    askAgain(core, this.recorder.utterances, "operator", 1);
  }

  /** `disconnect`: closes the socket (1000); the device may reconnect. */
  disconnect(reason: string): void {
    const text = cleanText(reason, MAX_CLOSE_REASON_BYTES) || "disconnected by an operator";
    this.core.hangUp("normal", text, 1000, "disconnected by an operator");
  }

  /** `reset_conversation`: history and any pending image are forgotten everywhere. */
  async resetConversation(): Promise<void> {
    const core = this.core;
    const deviceId = core.deviceId;
    if (!deviceId) throw new CommandError("bad_request", "the device has not identified itself");
    try {
      await core.saving; // a turn still being stored must not come back after the reset
      await clearConversation(core.deps.services, deviceId, core.deps.cfg.storageTimeoutMs);
      await core.deps.images.clear(deviceId).catch(() => undefined);
    } catch (err) {
      core.protocolError("storage_failed", "the conversation could not be reset; try again");
      throw new CommandError("failed", `storage: ${(err as Error).message}`);
    }
    core.send({ type: "conversation_reset" });
  }

  /** What the `state` command reports. */
  snapshot(): edge.DeviceState {
    const core = this.core;
    return edge.DeviceState.fromPartial({
      deviceId: core.deviceId ?? "",
      sessionId: core.id,
      dialect: core.dialect.name,
      state: core.state,
      edgeInstance: core.deps.cfg.instance,
      utterances: this.recorder.utterances,
    });
  }
}
