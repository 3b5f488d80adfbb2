import { grpc } from "@hotpin/runtime";

/** A refusal the caller can act on; its message is safe to return (no stored content). */
export class RequestError extends Error {
  override name = "RequestError";
  constructor(
    readonly code: grpc.status,
    message: string,
  ) {
    super(message);
  }
}

export const invalid = (message: string) => new RequestError(grpc.status.INVALID_ARGUMENT, message);
export const notFound = (message: string) => new RequestError(grpc.status.NOT_FOUND, message);
export const exhausted = (message: string) => new RequestError(grpc.status.RESOURCE_EXHAUSTED, message);

const ID = /^[\x21-\x7e]{1,128}$/;

/** Ids are printable ASCII without spaces, 1–128 characters. */
export function requireId(field: string, value: string): string {
  if (!ID.test(value)) throw invalid(`${field} must be 1-128 printable ASCII characters`);
  return value;
}

export function optionalId(field: string, value: string): string {
  return value === "" ? "" : requireId(field, value);
}

export function requireMaxBytes(field: string, value: string, max: number): string {
  if (Buffer.byteLength(value) > max) throw invalid(`${field} is longer than ${max} bytes`);
  return value;
}

/** Cuts a string to at most `max` UTF-8 bytes without splitting a character: events are never refused. */
export function truncateBytes(value: string, max: number): string {
  if (Buffer.byteLength(value) <= max) return value;
  const ELLIPSIS = "…"; // 3 bytes in UTF-8
  let out = Buffer.from(value)
    .subarray(0, Math.max(0, max - 3))
    .toString("utf8");
  // A character cut in half decodes to U+FFFD at the end; drop it.
  if (out.endsWith("\uFFFD")) out = out.slice(0, -1);
  return `${out}${ELLIPSIS}`;
}
