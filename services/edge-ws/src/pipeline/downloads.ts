import type { ServerResponse } from "node:http";
import type { storage } from "@hotpin/contracts";
import { deadlineIn, grpc } from "@hotpin/runtime";
import { type Services, unary } from "./services";
import { grpcCode } from "./stage-error";

/** Stores a reply WAV and returns a link that expires (offer_download). */
export async function offerDownload(
  services: Services,
  wav: Buffer,
  who: { deviceId: string; sessionId: string },
  ttlSec: number,
  timeoutMs: number,
  publicUrl: string,
): Promise<{ url: string; expiresInSec: number }> {
  const info = await new Promise<storage.BlobInfo>((resolve, reject) => {
    const call = services.storage.putBlob({ deadline: deadlineIn(timeoutMs) }, (err, res) =>
      err ? reject(err) : resolve(res),
    );
    call.write({
      part: {
        $case: "meta",
        value: { ...who, contentType: "audio/wav", kind: "reply-audio", ttlSeconds: ttlSec },
      },
    });
    for (let at = 0; at < wav.length; at += 64 * 1024) {
      call.write({ part: { $case: "chunk", value: wav.subarray(at, at + 64 * 1024) } });
    }
    call.end();
  });
  const token = await unary(
    services.storage,
    services.storage.createDownloadToken,
    { blobId: info.id, ttlSeconds: ttlSec },
    timeoutMs,
  );
  return { url: `${publicUrl.replace(/\/$/, "")}/download/${token.token}`, expiresInSec: ttlSec };
}

const TOKEN_PATTERN = /^[A-Za-z0-9_-]{16,256}$/;

/** GET /download/<token>: the stored reply while the token lives, 404 after. */
export async function serveDownload(services: Services, token: string, res: ServerResponse, timeoutMs: number) {
  if (!TOKEN_PATTERN.test(token)) {
    res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
    return;
  }
  try {
    const info = await unary(services.storage, services.storage.resolveDownloadToken, { token }, timeoutMs);
    const call = services.storage.getBlob({ id: info.id }, { deadline: deadlineIn(timeoutMs * 10) });
    let started = false;
    for await (const part of call as AsyncIterable<storage.GetBlobResponse>) {
      if (part.part?.$case === "info" && !started) {
        started = true;
        res.writeHead(200, {
          "content-type": part.part.value.contentType || "audio/wav",
          "content-length": String(part.part.value.sizeBytes),
          "cache-control": "no-store",
        });
      } else if (part.part?.$case === "chunk") {
        if (!started) throw new Error("blob chunk before info");
        if (!res.write(part.part.value)) await new Promise((r) => res.once("drain", r));
      }
    }
    res.end();
  } catch (err) {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const notFound = grpcCode(err) === grpc.status.NOT_FOUND;
    res
      .writeHead(notFound ? 404 : 503, { "content-type": "text/plain" })
      .end(notFound ? "not found\n" : "unavailable\n");
  }
}
