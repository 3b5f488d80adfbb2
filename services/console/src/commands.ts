import {
  type CommandBody,
  CommandTimeoutError,
  DeviceNotConnectedError,
  sendCommand,
} from "@hotpin/edge-ws/dist/commands/send-command";
import type { NatsConnection } from "@nats-io/transport-node";
import type { CommandRequest, CommandResult, DeviceView } from "./api-types";

export class BadCommandError extends Error {
  override name = "BadCommandError";
}

/** The edge command for a console request; throws BadCommandError for a bad one. */
export function commandBody(req: CommandRequest, maxSayChars: number): CommandBody {
  switch (req.command) {
    case "say": {
      const text = typeof req.text === "string" ? req.text.trim() : "";
      if (!text) throw new BadCommandError("say needs a text");
      if (text.length > maxSayChars) throw new BadCommandError(`say takes at most ${maxSayChars} characters`);
      return { $case: "say", value: { text } };
    }
    case "rerecord":
      return { $case: "rerecord", value: { reason: "operator" } };
    case "disconnect":
      return { $case: "disconnect", value: { reason: "operator" } };
    case "reset":
      return { $case: "resetConversation", value: {} };
    case "state":
      return { $case: "getState", value: {} };
    default:
      throw new BadCommandError("unknown command");
  }
}

/**
 * Device commands by NATS request/reply to whichever replica holds the device, as the
 * `hotpin` CLI sends them (services/edge-ws/src/cli.ts).
 */
export class DeviceCommands {
  constructor(
    private readonly nc: NatsConnection,
    private readonly timeoutMs: number,
  ) {}

  async send(deviceId: string, body: CommandBody): Promise<CommandResult> {
    try {
      const reply = await sendCommand(this.nc, deviceId, body, this.timeoutMs);
      const s = reply.state;
      return {
        ok: reply.ok,
        ...(reply.ok ? {} : { error: reply.errorCode || "refused" }),
        message: reply.ok ? "done" : reply.message,
        ...(s
          ? { state: { replica: s.edgeInstance, dialect: s.dialect, state: s.state, utterances: s.utterances } }
          : {}),
      };
    } catch (err) {
      if (err instanceof DeviceNotConnectedError) return { ok: false, error: "not_connected", message: err.message };
      if (err instanceof CommandTimeoutError) return { ok: false, error: "timeout", message: err.message };
      throw err;
    }
  }

  /** What the replica holding the device says about it, for the fleet view. */
  async state(deviceId: string): Promise<Partial<DeviceView> | undefined> {
    const reply = await sendCommand(this.nc, deviceId, { $case: "getState", value: {} }, 5000);
    const s = reply.state;
    if (!s) return undefined;
    return {
      sessionId: s.sessionId,
      dialect: s.dialect,
      state: s.state,
      replica: s.edgeInstance,
      utterances: s.utterances,
    };
  }
}
