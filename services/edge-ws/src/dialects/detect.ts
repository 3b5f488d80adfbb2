import type { DialectName } from "./dialect";

/**
 * device-protocols.md §3: `?session=` or a first frame with a `type` field is the spec
 * dialect; a first frame `{"session_id":...}` is the firmware. Undefined: cannot tell.
 */
export function dialectFromUrl(url: URL): DialectName | undefined {
  return url.searchParams.has("session") ? "spec" : undefined;
}

export function dialectFromFirstFrame(data: Buffer, isBinary: boolean): DialectName | undefined {
  if (isBinary) return undefined;
  let msg: unknown;
  try {
    msg = JSON.parse(data.toString("utf8"));
  } catch {
    return undefined;
  }
  if (typeof msg !== "object" || msg === null) return undefined;
  if ("type" in msg) return "spec";
  if ("session_id" in msg) return "firmware";
  return undefined;
}
