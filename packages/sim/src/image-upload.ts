import { AuthRejectedError, ConnectionDroppedError, SimError } from "./errors";
import { type Settings, serverUrl } from "./settings";
import type { Timeline } from "./timeline";

/**
 * POST /image as each dialect's device does it. Firmware: multipart with a `session` field and a
 * `file` part (image.jpg, image/jpeg). Spec: `?session=<id>` with the raw JPEG as the body.
 */
export async function uploadImage(s: Settings, image: Buffer, timeline: Timeline): Promise<void> {
  const url = serverUrl(s.httpBase, "/image");
  const headers: Record<string, string> = {};
  if (s.token !== undefined) headers.authorization = `Bearer ${s.token}`;
  let body: FormData | Buffer;
  if (s.dialect === "firmware") {
    const form = new FormData();
    form.append("session", s.deviceId);
    form.append("file", new Blob([image], { type: "image/jpeg" }), "image.jpg");
    body = form;
  } else {
    url.searchParams.set("session", s.deviceId);
    headers["content-type"] = "image/jpeg";
    body = image;
  }
  timeline.add(
    "out",
    `POST ${url.pathname}${url.search} image ${image.length} B (${s.dialect === "firmware" ? "multipart" : "raw"})`,
  );
  let res: Response;
  try {
    res = await fetch(url, { method: "POST", headers, body, signal: AbortSignal.timeout(s.replyTimeoutMs) });
  } catch (err) {
    throw new ConnectionDroppedError(`image upload failed: ${(err as Error).message}`, { cause: err });
  }
  const text = await res.text().catch(() => "");
  timeline.add("in", `HTTP ${res.status} for POST /image`);
  if (res.status === 401 || res.status === 403) throw new AuthRejectedError(res.status);
  if (res.status < 200 || res.status > 299) {
    throw new SimError("http", `image upload answered HTTP ${res.status}: ${text.slice(0, 120)}`);
  }
}
