import { edge } from "@hotpin/contracts";
import { Attr, commandSubject, extractTrace, inSpan, isValidDeviceId, type Logger } from "@hotpin/runtime";
import type { Msg, NatsConnection, Subscription } from "@nats-io/transport-node";
import { context, SpanKind } from "@opentelemetry/api";
import type { EdgeConfig } from "../config";
import type { EdgeMetrics } from "../metrics";
import type { DeviceRegistry, RegistryListener } from "../session/devices";
import { CommandError, type Session } from "../session/session";

/** Largest command message accepted (a say text is bounded separately). */
const MAX_COMMAND_BYTES = 16 * 1024;

/**
 * Device commands by NATS request/reply: this replica subscribes to commandSubject(device) for
 * every device whose connection it holds, and unsubscribes when the session ends, so a request
 * reaches the one replica holding the device (and "no responders" says at once that nobody
 * does). Each command runs in a span parented by the requester's trace context.
 */
export class CommandServer implements RegistryListener<Session> {
  private nc: NatsConnection | undefined;
  /** Subject → devices here that map to it (device ids may collide on a subject token). */
  private readonly subs = new Map<string, { sub: Subscription; devices: Set<string> }>();

  constructor(
    private readonly devices: DeviceRegistry<Session>,
    private readonly cfg: EdgeConfig,
    private readonly log: Logger,
    private readonly metrics: EdgeMetrics,
  ) {
    devices.listen(this);
  }

  attach(nc: NatsConnection): void {
    this.nc = nc;
    for (const [deviceId] of this.devices.entries()) this.claimed(deviceId);
  }

  claimed(deviceId: string): void {
    if (!this.nc || this.nc.isClosed()) return;
    const subject = commandSubject(deviceId);
    const existing = this.subs.get(subject);
    if (existing) {
      existing.devices.add(deviceId);
      return;
    }
    const sub = this.nc.subscribe(subject, {
      callback: (err, msg) => {
        if (!err) void this.handle(msg);
      },
    });
    this.subs.set(subject, { sub, devices: new Set([deviceId]) });
  }

  released(deviceId: string): void {
    const subject = commandSubject(deviceId);
    const entry = this.subs.get(subject);
    if (!entry) return;
    entry.devices.delete(deviceId);
    if (entry.devices.size === 0) {
      this.subs.delete(subject);
      entry.sub.unsubscribe();
    }
  }

  /** Stops taking commands (drain): requests then get "no responders" or another replica. */
  stop(): void {
    for (const { sub } of this.subs.values()) sub.unsubscribe();
    this.subs.clear();
    this.nc = undefined;
  }

  private async handle(msg: Msg): Promise<void> {
    let cmd: edge.Command;
    try {
      if (msg.data.length > MAX_COMMAND_BYTES) throw new Error("too large");
      cmd = edge.Command.decode(msg.data);
    } catch {
      this.reply(msg, "unknown", { ok: false, errorCode: "bad_request", message: "not a hotpin.edge.v1.Command" });
      return;
    }
    // NATS permissions are granted per subject: a command for device B sent on A's subject would
    // get past them, so the device id must be the one the subject names.
    if (!isValidDeviceId(cmd.deviceId) || commandSubject(cmd.deviceId) !== msg.subject) {
      this.reply(msg, cmd.command?.$case ?? "none", {
        ok: false,
        errorCode: "bad_request",
        message: "the command's device id is not the one its subject names",
      });
      return;
    }
    const session = this.devices.get(cmd.deviceId);
    // Another device mapping to the same subject token is held elsewhere: let that replica answer.
    if (!session) return;
    const name = cmd.command?.$case ?? "none";
    const attrs = { [Attr.deviceId]: cmd.deviceId, [Attr.messagingSystem]: "nats", "hotpin.command": name };
    await context.with(extractTrace(msg.headers), () =>
      inSpan(
        "edge.command",
        attrs,
        async () => {
          try {
            await this.run(session, cmd);
            this.reply(msg, name, { ok: true, errorCode: "", message: "", state: session.snapshot() });
          } catch (err) {
            const code = err instanceof CommandError ? err.code : "failed";
            this.reply(msg, name, {
              ok: false,
              errorCode: code,
              message: (err as Error).message,
              state: session.snapshot(),
            });
          }
        },
        SpanKind.SERVER,
      ),
    );
  }

  private async run(session: Session, cmd: edge.Command): Promise<void> {
    const c = cmd.command;
    switch (c?.$case) {
      case "say": {
        const text = c.value.text.trim();
        if (!text) throw new CommandError("bad_request", "say needs a text");
        if (text.length > this.cfg.maxSayChars) {
          throw new CommandError("bad_request", `say texts are limited to ${this.cfg.maxSayChars} characters`);
        }
        return session.say(text);
      }
      case "rerecord":
        return session.requestRerecord();
      case "disconnect":
        return session.disconnect(c.value.reason);
      case "getState":
        return;
      case "resetConversation":
        return session.resetConversation();
      default:
        throw new CommandError("bad_request", "unknown or missing command");
    }
  }

  private reply(msg: Msg, command: string, reply: Partial<edge.CommandReply>): void {
    this.metrics.commands.inc({ command, outcome: reply.ok ? "ok" : (reply.errorCode ?? "failed") });
    if (!reply.ok) this.log.info({ command, code: reply.errorCode }, "device command refused");
    msg.respond(edge.CommandReply.encode(edge.CommandReply.fromPartial(reply)).finish());
  }
}
