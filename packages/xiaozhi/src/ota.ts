// The OTA check (`POST /xiaozhi/ota/`) and activation poll (`POST /xiaozhi/ota/activate`) of a
// xiaozhi device (docs/protocols/xiaozhi.md §1).

import { randomBytes, randomInt } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import type { ProtocolVersion } from "./binary";
import { type DeviceIdentity, deviceIdentity } from "./connect";
import { type Json, optionalObject, optionalString, parseObject, XiaozhiProtocolError } from "./errors";

/** The device's system-info body is about 1-2 KB (it lists the partition table). */
export const MAX_OTA_BODY_BYTES = 16 * 1024;
/** Dotted firmware versions such as "2.0.4", "1.9.2-rc1". */
const VERSION = /^[0-9A-Za-z][0-9A-Za-z.+_-]{0,31}$/;

export interface OtaRequest extends DeviceIdentity {
  /** `application.version`: echoed as the "current" version so the device does not upgrade. */
  firmwareVersion: string;
  /** `board.type`, when the board says. */
  boardType?: string;
  language?: string;
  /** 2 when the device has an eFuse serial number and can sign activation challenges. */
  activationVersion: 1 | 2;
  serialNumber?: string;
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function printable(value: string | undefined, what: string): string | undefined {
  if (value !== undefined && !/^[\x20-\x7e]*$/.test(value))
    throw new XiaozhiProtocolError(`${what} must be printable ASCII`);
  return value || undefined;
}

export function parseOtaRequest(headers: IncomingHttpHeaders, body: string): OtaRequest {
  const identity = deviceIdentity(headers);
  const info = parseObject(body, "OTA body", MAX_OTA_BODY_BYTES);
  const application = optionalObject(info, "application", "body");
  const firmwareVersion = application && optionalString(application, "version", 32, "application");
  if (firmwareVersion === undefined) throw new XiaozhiProtocolError("the OTA body has no application.version");
  if (!VERSION.test(firmwareVersion)) throw new XiaozhiProtocolError("application.version is not a version number");
  const board = optionalObject(info, "board", "body");
  const boardType = printable(board && optionalString(board, "type", 64, "board"), "board.type");
  const language = printable(
    optionalString(info, "language", 16, "body") ?? header(headers, "accept-language")?.slice(0, 16),
    "language",
  );
  const serialNumber = printable(header(headers, "serial-number")?.slice(0, 64), "Serial-Number");
  return {
    ...identity,
    firmwareVersion,
    ...(boardType ? { boardType } : {}),
    ...(language ? { language } : {}),
    activationVersion: header(headers, "activation-version") === "2" ? 2 : 1,
    ...(serialNumber ? { serialNumber } : {}),
  };
}

export interface OtaResponseOptions {
  /** The version the device runs: sent back with an empty URL, which means "no update". */
  firmwareVersion: string;
  nowMs: number;
  /** Minutes east of UTC for the device's clock. */
  timezoneOffsetMinutes: number;
  /** A bound device: where and with what to connect. */
  websocket?: { url: string; token: string; version?: ProtocolVersion };
  /** An unbound device: the code it reads aloud, and the challenge that makes it poll /activate. */
  activation?: { code: string; message: string; challenge: string; timeoutMs?: number };
}

/**
 * The OTA reply. Never an `mqtt` key, which would switch the device to MQTT+UDP (§1.2); a
 * device still being activated gets no `websocket` either, so it has nothing to connect with.
 */
export function otaResponse(o: OtaResponseOptions): Json {
  if ((o.websocket === undefined) === (o.activation === undefined)) {
    throw new RangeError("an OTA reply carries either websocket (bound device) or activation (unbound device)");
  }
  const reply: Json = {
    server_time: { timestamp: o.nowMs, timezone_offset: o.timezoneOffsetMinutes },
    firmware: { version: o.firmwareVersion, url: "" },
  };
  if (o.websocket) {
    const { url, token, version } = o.websocket;
    if (!/^wss?:\/\//.test(url)) throw new RangeError("the websocket URL must be ws:// or wss://");
    reply.websocket = { url, token, ...(version ? { version } : {}) };
  }
  if (o.activation) {
    const { code, message, challenge, timeoutMs } = o.activation;
    reply.activation = { code, message, challenge, ...(timeoutMs ? { timeout_ms: timeoutMs } : {}) };
  }
  return reply;
}

export interface ActivateRequest extends DeviceIdentity {
  /** Echoed from the OTA reply; absent from devices without a serial number (their body is `{}`). */
  challenge?: string;
  serialNumber?: string;
  /** HMAC-SHA256 of the challenge with the device's eFuse key, hex. */
  hmac?: string;
}

/** Status codes the firmware understands on /activate: 202 keeps it polling every 3 s. */
export const ACTIVATE_PENDING = 202;
export const ACTIVATE_DONE = 200;

export function parseActivateRequest(headers: IncomingHttpHeaders, body: string): ActivateRequest {
  const identity = deviceIdentity(headers);
  const m = body.trim() === "" ? {} : parseObject(body, "activate body", MAX_OTA_BODY_BYTES);
  const challenge = optionalString(m, "challenge", 128, "activate");
  const serialNumber = printable(optionalString(m, "serial_number", 64, "activate"), "serial_number");
  const hmac = optionalString(m, "hmac", 128, "activate");
  if (hmac !== undefined && !/^[0-9a-f]*$/i.test(hmac)) throw new XiaozhiProtocolError("activate.hmac must be hex");
  return {
    ...identity,
    ...(challenge ? { challenge } : {}),
    ...(serialNumber ? { serialNumber } : {}),
    ...(hmac ? { hmac } : {}),
  };
}

/** A six-digit code for the device to read aloud, from a cryptographic generator. */
export function newActivationCode(): string {
  return String(randomInt(0, 1_000_000)).padStart(6, "0");
}

/** A fresh activation challenge: 128 random bits, hex. */
export function newActivationChallenge(): string {
  return randomBytes(16).toString("hex");
}
