import { edge } from "@hotpin/contracts";
import { commandSubject, injectTrace } from "@hotpin/runtime";
import { headers, type NatsConnection, RequestError, TimeoutError } from "@nats-io/transport-node";

export class DeviceNotConnectedError extends Error {
  override name = "DeviceNotConnectedError";
  constructor(deviceId: string) {
    super(`device ${JSON.stringify(deviceId)} is not connected to any edge replica`);
  }
}

export class CommandTimeoutError extends Error {
  override name = "CommandTimeoutError";
  constructor(timeoutMs: number) {
    super(`no answer within ${timeoutMs} ms`);
  }
}

export type CommandBody = NonNullable<edge.Command["command"]>;

/**
 * Sends one device command by NATS request/reply to the replica holding the device, with the
 * caller's trace context in the headers. "No responders" means no replica holds the device.
 */
export async function sendCommand(
  nc: NatsConnection,
  deviceId: string,
  command: CommandBody,
  timeoutMs: number,
): Promise<edge.CommandReply> {
  const data = edge.Command.encode({ deviceId, command }).finish();
  try {
    const msg = await nc.request(commandSubject(deviceId), data, {
      timeout: timeoutMs,
      headers: injectTrace(headers()),
    });
    return edge.CommandReply.decode(msg.data);
  } catch (err) {
    if (err instanceof RequestError && err.isNoResponders()) throw new DeviceNotConnectedError(deviceId);
    if (err instanceof TimeoutError || (err instanceof RequestError && err.cause instanceof TimeoutError)) {
      throw new CommandTimeoutError(timeoutMs);
    }
    throw err;
  }
}
