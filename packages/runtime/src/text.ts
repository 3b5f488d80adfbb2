/** C0 controls (NUL included), DEL and C1 controls: never meaningful in a reason or a label. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;
/** Lone surrogates cannot be encoded as UTF-8 (PostgreSQL and WebSocket close frames refuse them). */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * Device- or peer-sourced text made safe to store, log or forward: control characters and lone
 * surrogates replaced by U+FFFD, then cut to at most `maxBytes` of UTF-8 without splitting a
 * character. (A WebSocket close reason may hold 123 bytes; PostgreSQL refuses NUL.)
 */
export function cleanText(text: string, maxBytes: number): string {
  const clean = text.replace(CONTROL, "\ufffd").replace(LONE_SURROGATE, "\ufffd");
  if (Buffer.byteLength(clean) <= maxBytes) return clean;
  let out = "";
  let bytes = 0;
  for (const ch of clean) {
    const n = Buffer.byteLength(ch);
    if (bytes + n > maxBytes) break;
    out += ch;
    bytes += n;
  }
  return out;
}

/** Longest WebSocket close reason, in bytes (RFC 6455: 125-byte control frame less the code). */
export const MAX_CLOSE_REASON_BYTES = 123;

/**
 * A string for a terminal: control characters (ESC sequences, C1, bidi overrides) shown as
 * \u escapes, so a device-chosen id or message cannot rewrite the operator's screen.
 */
export function forTerminal(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: escaping control characters is the point
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, (c) => {
    return `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
  });
}
