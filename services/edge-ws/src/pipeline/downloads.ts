import type { IncomingMessage, ServerResponse } from "node:http";
import type { storage } from "@hotpin/contracts";
import { deadlineIn, grpc } from "@hotpin/runtime";
import type { EdgeMetrics } from "../metrics";
import { PerMinuteLimit } from "../rate-window";
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

/** Storage's download tokens: 32 random bytes in base64url, exactly (storage/download-tokens.ts). */
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

/**
 * GET /download/<token>: the stored reply while the token lives, 404 after. The token's exact
 * shape is checked before any storage call, each address may ask `HOTPIN_EDGE_DOWNLOADS_PER_MINUTE`
 * times a minute (429 beyond), and a client that goes away cancels the storage stream at once.
 */
export class DownloadServer {
  private readonly calls = new Set<{ cancel(): void }>();
  private readonly perAddress: PerMinuteLimit;

  constructor(
    private readonly services: Services,
    private readonly cfg: { storageTimeoutMs: number; downloadsPerMinute: number },
    private readonly metrics: EdgeMetrics,
  ) {
    this.perAddress = new PerMinuteLimit(cfg.downloadsPerMinute);
  }

  async serve(req: IncomingMessage, token: string, res: ServerResponse): Promise<void> {
    const answer = (status: number, outcome: string, body: string) => {
      this.metrics.downloads.inc({ outcome });
      if (!res.headersSent) res.writeHead(status, { "content-type": "text/plain", "cache-control": "no-store" });
      res.end(`${body}\n`);
    };
    if (!this.perAddress.take(req.socket.remoteAddress ?? "")) return answer(429, "rate_limited", "rate limited");
    if (!TOKEN_SHAPE.test(token)) return answer(404, "not_found", "not found");
    const { services, cfg } = this;
    let call: ReturnType<Services["storage"]["getBlob"]> | undefined;
    const gone = () => call?.cancel();
    res.once("close", gone);
    try {
      const info = await unary(
        services.storage,
        services.storage.resolveDownloadToken,
        { token },
        cfg.storageTimeoutMs,
      );
      if (res.destroyed) return;
      call = services.storage.getBlob({ id: info.id }, { deadline: deadlineIn(cfg.storageTimeoutMs * 10) });
      this.calls.add(call);
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
          if (!res.write(part.part.value)) await drained(res);
          if (res.destroyed) throw new Error("client gone");
        }
      }
      res.end();
      this.metrics.downloads.inc({ outcome: "ok" });
    } catch (err) {
      call?.cancel();
      if (res.headersSent || res.destroyed) {
        this.metrics.downloads.inc({ outcome: "aborted" });
        res.destroy();
        return;
      }
      const notFound = grpcCode(err) === grpc.status.NOT_FOUND;
      answer(notFound ? 404 : 503, notFound ? "not_found" : "unavailable", notFound ? "not found" : "unavailable");
    } finally {
      res.off("close", gone);
      if (call) this.calls.delete(call);
    }
  }

  /** Drain: streams still running are cancelled. */
  stop(): void {
    for (const c of this.calls) c.cancel();
  }
}

/** Resolves on `drain`, or when the response closes first (no listener is left behind). */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}
