/** What a xiaozhi device sent cannot be used; the message says why, without echoing the input. */
export class XiaozhiProtocolError extends Error {
  override name = "XiaozhiProtocolError";
}

export type Json = Record<string, unknown>;

/** JSON text as an object, or a XiaozhiProtocolError naming what is wrong. */
export function parseObject(text: string, what: string, maxBytes: number): Json {
  if (Buffer.byteLength(text) > maxBytes) throw new XiaozhiProtocolError(`${what} is longer than ${maxBytes} bytes`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new XiaozhiProtocolError(`${what} is not JSON`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new XiaozhiProtocolError(`${what} is not a JSON object`);
  }
  return value as Json;
}

export function optionalString(obj: Json, key: string, maxChars: number, where: string): string | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw new XiaozhiProtocolError(`${where}.${key} must be a string`);
  if (v.length > maxChars) throw new XiaozhiProtocolError(`${where}.${key} is longer than ${maxChars} characters`);
  return v;
}

export function optionalObject(obj: Json, key: string, where: string): Json | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "object" || Array.isArray(v)) throw new XiaozhiProtocolError(`${where}.${key} must be an object`);
  return v as Json;
}
