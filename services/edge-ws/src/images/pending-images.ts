import type { KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { deviceKey, openBucket } from "../fleet/kv-bucket";

export const PENDING_IMAGE_BUCKET = "hotpin_pending_images";

/** Where a device's uploaded image waits for its next LLM turn. */
export interface PendingImage {
  /** The device the image was uploaded for: a pointer is only ever handed to that device. */
  deviceId: string;
  blobId: string;
  thumbnailBlobId: string;
  mimeType: string;
  width: number;
  height: number;
  bytes: number;
  uploadedAt: number;
}

export class ImagesUnavailableError extends Error {
  constructor() {
    super("NATS is not connected; images cannot be accepted right now");
    this.name = "ImagesUnavailableError";
  }
}

/**
 * The pending-image pointer per device, in a NATS KV bucket every edge replica sees: an image
 * uploaded on one replica is found by the replica holding the device's socket, and survives the
 * device reconnecting anywhere. Entries expire with the bucket's TTL; `take` removes the entry
 * with compare-and-set, so an image is used by exactly one turn.
 */
export class PendingImages {
  private kv: KV | undefined;

  constructor(
    private readonly ttlMs: number,
    private readonly replicas = 1,
  ) {}

  async attach(nc: NatsConnection): Promise<void> {
    this.kv = await openBucket(nc, PENDING_IMAGE_BUCKET, {
      ttl: this.ttlMs,
      history: 1,
      replicas: this.replicas,
      maxValueSize: 4096,
      description: "HotPin: image waiting for each device's next LLM turn",
    });
  }

  get ready(): boolean {
    return this.kv !== undefined;
  }

  /** Stores the pointer; returns the one it replaced (its blobs may be deleted). */
  async put(deviceId: string, image: PendingImage): Promise<PendingImage | undefined> {
    const kv = this.bucket();
    const key = deviceKey(deviceId);
    const previous = await kv.get(key);
    await kv.put(key, JSON.stringify(image));
    return previous?.operation === "PUT" ? this.parse(previous.string()) : undefined;
  }

  /** The device's pending image, removed so no other turn gets it; undefined when none. */
  async take(deviceId: string): Promise<PendingImage | undefined> {
    const kv = this.bucket();
    const key = deviceKey(deviceId);
    for (let attempt = 0; attempt < 3; attempt++) {
      const entry = await kv.get(key);
      if (entry?.operation !== "PUT") return undefined;
      try {
        await kv.delete(key, { previousSeq: entry.revision });
      } catch {
        continue; // replaced or taken meanwhile: look again
      }
      const image = this.parse(entry.string());
      if (!image || image.deviceId !== deviceId) return undefined;
      return Date.now() - image.uploadedAt <= this.ttlMs ? image : undefined;
    }
    return undefined;
  }

  async clear(deviceId: string): Promise<PendingImage | undefined> {
    return this.take(deviceId);
  }

  private bucket(): KV {
    if (!this.kv) throw new ImagesUnavailableError();
    return this.kv;
  }

  private parse(text: string): PendingImage | undefined {
    try {
      const v = JSON.parse(text) as PendingImage;
      return typeof v.blobId === "string" && typeof v.deviceId === "string" ? v : undefined;
    } catch {
      return undefined;
    }
  }
}
