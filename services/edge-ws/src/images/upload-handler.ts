import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "@hotpin/runtime";
import { DEVICE_ID_RULE, grpc, isValidDeviceId } from "@hotpin/runtime";
import { type Authenticator, grantCovers, tokenFromRequest } from "../auth";
import type { EdgeConfig } from "../config";
import type { EventSink } from "../events";
import type { EdgeMetrics } from "../metrics";
import { deleteBlob, putBlob } from "../pipeline/blobs";
import type { Services } from "../pipeline/services";
import { grpcCode } from "../pipeline/stage-error";
import { ImagesUnavailableError, type PendingImage, type PendingImages } from "./pending-images";
import { prepareImage } from "./prepare-image";
import { readUpload } from "./read-upload";
import { UploadError } from "./upload-error";

export interface ImageUploadDeps {
  cfg: EdgeConfig;
  auth: Authenticator;
  services: Services;
  pending: PendingImages;
  events: EventSink;
  metrics: EdgeMetrics;
  log: Logger;
  /** Tells the device's session on this replica, if it is here, that its image arrived. */
  notifyLocal(deviceId: string, image: PendingImage): void;
}

/**
 * POST /image: authenticate, read (either form, capped), sniff, decode and prepare with sharp,
 * store image and thumbnail through storage, and point the device's next LLM turn at it in
 * NATS KV. Every refusal is a specific status with `{"error":<code>,"message"}`.
 */
export class ImageUploads {
  private inFlight = 0;
  private readonly recent = new Map<string, number[]>();

  constructor(private readonly deps: ImageUploadDeps) {}

  async handle(req: IncomingMessage, res: ServerResponse, url: URL, sessionIdFor: (deviceId: string) => string) {
    const { metrics, log } = this.deps;
    let admitted = false;
    try {
      if (req.method !== "POST") throw new UploadError("bad_method", "use POST");
      const auth = await this.deps.auth.check(tokenFromRequest(req, url));
      if (!auth.ok) throw new UploadError("unauthorized", `token ${auth.reason}`);
      if (this.inFlight >= this.deps.cfg.imageUploadsAtOnce) throw new UploadError("busy", "too many uploads at once");
      if (!this.deps.pending.ready) throw new ImagesUnavailableError();
      this.inFlight++;
      admitted = true;
      const upload = await readUpload(req, url, this.deps.cfg.imageMaxBytes, this.deps.cfg.imageUploadTimeoutMs);
      const deviceId = upload.deviceId;
      if (!deviceId) throw new UploadError("missing_session", "the session (device id) is missing");
      if (!isValidDeviceId(deviceId)) throw new UploadError("bad_device_id", `a device id must be ${DEVICE_ID_RULE}`);
      if (!grantCovers(auth.grant, deviceId)) throw new UploadError("wrong_device", "token not valid for this device");
      // A device may upload before (or while not) connected: the image waits for its next turn.
      this.checkRate(deviceId);
      const image = await prepareImage(upload.data, {
        maxPixels: this.deps.cfg.imageMaxPixels,
        maxDimension: this.deps.cfg.imageMaxDimension,
        thumbnailPx: this.deps.cfg.imageThumbnailPx,
      });
      const stored = await this.store(deviceId, sessionIdFor(deviceId), image);
      metrics.imageUploads.inc({ outcome: "ok" });
      metrics.imageBytes.inc(upload.data.length);
      this.deps.events.publish(deviceId, sessionIdFor(deviceId), {
        $case: "imageReceived",
        value: { blobId: stored.blobId, width: stored.width, height: stored.height, bytes: stored.bytes },
      });
      // Stored (bounded wait) before the device or the uploader hears the image arrived.
      await this.deps.events.confirm(this.deps.cfg.eventConfirmTimeoutMs);
      this.deps.notifyLocal(deviceId, stored);
      this.answer(res, 200, {
        type: "image_received",
        status: "ok",
        session: deviceId,
        width: stored.width,
        height: stored.height,
        bytes: stored.bytes,
      });
    } catch (err) {
      const e =
        err instanceof UploadError
          ? err
          : err instanceof ImagesUnavailableError
            ? new UploadError("unavailable", err.message)
            : grpcCode(err) === grpc.status.RESOURCE_EXHAUSTED
              ? new UploadError("storage_quota", "the device's storage quota is full")
              : new UploadError("unavailable", "the image could not be stored; try again");
      if (!(err instanceof UploadError)) log.warn({ err: (err as Error).message }, "image upload failed");
      metrics.imageUploads.inc({ outcome: e.code });
      const close = e.code === "too_large" || e.code === "timeout";
      this.answer(res, e.status, { error: e.code, message: e.message }, close);
      // A client too slow for the deadline gets no more of our time once it has the answer.
      if (e.code === "timeout") res.once("finish", () => req.destroy());
      if (e.code === "too_large" || e.code === "bad_request" || e.code === "bad_device_id") req.resume();
    } finally {
      if (admitted) this.inFlight--;
    }
  }

  private async store(
    deviceId: string,
    sessionId: string,
    image: Awaited<ReturnType<typeof prepareImage>>,
  ): Promise<PendingImage> {
    const { services, cfg, pending } = this.deps;
    const meta = { deviceId, sessionId, ttlSeconds: cfg.imageTtlSec };
    const [full, thumb] = await Promise.all([
      putBlob(services, { ...meta, contentType: image.mimeType, kind: "image" }, image.image, cfg.storageTimeoutMs),
      putBlob(
        services,
        { ...meta, contentType: "image/jpeg", kind: "image-thumbnail" },
        image.thumbnail,
        cfg.storageTimeoutMs,
      ),
    ]);
    const pointer: PendingImage = {
      deviceId,
      blobId: full.id,
      thumbnailBlobId: thumb.id,
      mimeType: image.mimeType,
      width: image.width,
      height: image.height,
      bytes: image.image.length,
      uploadedAt: Date.now(),
    };
    const replaced = await pending.put(deviceId, pointer);
    if (replaced && replaced.deviceId === deviceId) {
      // The older image will never be used: free the device's quota now rather than at expiry.
      for (const id of [replaced.blobId, replaced.thumbnailBlobId]) {
        void deleteBlob(services, id, cfg.storageTimeoutMs).catch(() => undefined);
      }
    }
    return pointer;
  }

  /** A sliding window per device; the map is bounded by pruning devices with no recent upload. */
  private checkRate(deviceId: string): void {
    const now = Date.now();
    const windowStart = now - 60_000;
    if (this.recent.size > 10_000) {
      for (const [id, times] of this.recent) if ((times.at(-1) ?? 0) < windowStart) this.recent.delete(id);
    }
    const times = (this.recent.get(deviceId) ?? []).filter((t) => t > windowStart);
    if (times.length >= this.deps.cfg.imageUploadsPerMinute) {
      this.recent.set(deviceId, times);
      throw new UploadError("rate_limited", `at most ${this.deps.cfg.imageUploadsPerMinute} images a minute`);
    }
    times.push(now);
    this.recent.set(deviceId, times);
  }

  private answer(res: ServerResponse, status: number, body: object, close = false): void {
    if (res.headersSent) return;
    res.writeHead(status, {
      "content-type": "application/json",
      "cache-control": "no-store",
      ...(close ? { connection: "close" } : {}),
    });
    res.end(`${JSON.stringify(body)}\n`);
  }
}
