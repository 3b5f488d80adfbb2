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
  // A UTF-16 code unit is at most 3 UTF-8 bytes: short strings need no count.
  if (value.length * 3 <= max || Buffer.byteLength(value) <= max) return value;
  const ELLIPSIS = "…"; // 3 bytes in UTF-8
  let out = Buffer.from(value)
    .subarray(0, Math.max(0, max - 3))
    .toString("utf8");
  // A character cut in half decodes to U+FFFD at the end; drop it.
  if (out.endsWith("\uFFFD")) out = out.slice(0, -1);
  return `${out}${ELLIPSIS}`;
}

// C0 and C1 control characters except tab, newline and carriage return (NUL among them).
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/g;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
// biome-ignore lint/suspicious/noControlCharactersInRegex: as above
const SUSPECT = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\uD800-\uDFFF]/;

/**
 * Device-sourced text made storable in both databases: PostgreSQL refuses NUL in text (22021)
 * and SQLite's text functions stop at it, so control characters and lone surrogates become
 * U+FFFD; then cut to `max` UTF-8 bytes.
 */
export function storableText(value: string, max: number): string {
  // Most text has nothing to replace: one scan, no copies.
  const clean = SUSPECT.test(value) ? value.replace(CONTROL, "\uFFFD").replace(LONE_SURROGATE, "\uFFFD") : value;
  return truncateBytes(clean, max);
}

/** True for a string that `requireId` accepts. */
export function isId(value: string): boolean {
  return ID.test(value);
}
