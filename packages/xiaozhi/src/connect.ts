// The WebSocket upgrade request of a xiaozhi device (docs/protocols/xiaozhi.md §2.2).
import type { IncomingHttpHeaders } from "node:http";
import { DEVICE_ID_RULE, isValidDeviceId } from "@hotpin/runtime";
import type { ProtocolVersion } from "./binary";
import { XiaozhiProtocolError } from "./errors";

/** The board's UUID: printable ASCII, no spaces. */
const CLIENT_ID = /^[\x21-\x7e]{1,64}$/;
const MAX_TOKEN_CHARS = 4096;

export interface DeviceIdentity {
  /** The Wi-Fi MAC, lowercase hex with colons, as the firmware sends it. */
  deviceId: string;
  clientId: string;
}

export interface ConnectRequest extends DeviceIdentity {
  protocolVersion: ProtocolVersion;
  /** The bearer token, or undefined when the device has none (it then sends no Authorization). */
  token: string | undefined;
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Device-Id and Client-Id, which the OTA, activation and WebSocket requests all carry. */
export function deviceIdentity(headers: IncomingHttpHeaders): DeviceIdentity {
  const deviceId = header(headers, "device-id");
  if (deviceId === undefined) throw new XiaozhiProtocolError("the Device-Id header is missing");
  if (!isValidDeviceId(deviceId)) throw new XiaozhiProtocolError(`Device-Id must be ${DEVICE_ID_RULE}`);
  const clientId = header(headers, "client-id");
  if (clientId === undefined) throw new XiaozhiProtocolError("the Client-Id header is missing");
  if (!CLIENT_ID.test(clientId))
    throw new XiaozhiProtocolError("Client-Id must be 1-64 printable ASCII characters without spaces");
  return { deviceId, clientId };
}

/** Reads the upgrade's headers; names are lowercase, as Node gives them. */
export function parseConnectRequest(headers: IncomingHttpHeaders): ConnectRequest {
  const identity = deviceIdentity(headers);
  const rawVersion = header(headers, "protocol-version") ?? "1";
  const protocolVersion = Number(rawVersion);
  if (!/^[123]$/.test(rawVersion.trim())) throw new XiaozhiProtocolError("Protocol-Version must be 1, 2 or 3");
  const auth = header(headers, "authorization");
  let token: string | undefined;
  if (auth !== undefined) {
    if (auth.length > MAX_TOKEN_CHARS)
      throw new XiaozhiProtocolError(`Authorization is longer than ${MAX_TOKEN_CHARS} characters`);
    // The firmware adds "Bearer " to a token without a space and sends other tokens verbatim.
    const bearer = /^Bearer\s+(\S+)$/i.exec(auth.trim());
    token = bearer ? bearer[1] : auth.trim();
    if (!token) token = undefined;
  }
  return { ...identity, protocolVersion: protocolVersion as ProtocolVersion, token };
}
