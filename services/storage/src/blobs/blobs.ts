import { createHash, randomUUID } from "node:crypto";
import type { storage } from "@hotpin/contracts";
import type { Kysely, Selectable } from "kysely";
import type { BlobsTable, Database } from "../db/schema";
import { exhausted, invalid, notFound, optionalId, requireId } from "../errors";
import type { BlobBackend } from "./backend";

export interface BlobLimits {
  defaultTtlMs: number;
  maxTtlMs: number;
  maxBlobBytes: number;
  deviceQuotaBytes: number;
}

const CONTENT_TYPE = /^[\w.+-]+\/[\w.+-]+$/;
const KIND = /^[a-z0-9][a-z0-9_-]{0,63}$/;

export function toBlobInfo(row: Selectable<BlobsTable>): storage.BlobInfo {
  return {
    id: row.id,
    deviceId: row.device_id,
    contentType: row.content_type,
    kind: row.kind,
    sizeBytes: row.size_bytes,
    createdAt: new Date(row.created_at),
    expiresAt: new Date(row.expires_at),
    sha256: row.sha256,
    sessionId: row.session_id,
  };
}

/** What the blob store holds: bytes and blobs (every row, expired or not yet removed, and uploads in progress). */
export interface StoreUsage {
  bytes: number;
  blobs: number;
}

/**
 * Blob metadata, quota and expiry in the database; bytes in the backend. A row is written first
 * (not ready) so that bytes whose upload was cut off are found and removed by the retention job.
 *
 * `stored` is what the store holds, for the metrics: read from the database by `refreshStored`
 * (at start and after each retention run, which also counts other replicas' writes) and kept up
 * to date in between by this replica's own writes and deletes, so a scrape costs nothing.
 */
export class Blobs {
  /** Bytes of uploads in flight per device on this replica, so parallel uploads cannot overrun the quota. */
  private readonly inFlight = new Map<string, number>();
  readonly stored: StoreUsage = { bytes: 0, blobs: 0 };

  constructor(
    private readonly db: Kysely<Database>,
    readonly backend: BlobBackend,
    private readonly limits: BlobLimits,
    /** Told the new totals whenever they change (the store usage gauges). */
    private readonly onStored: (u: StoreUsage) => void = () => {},
  ) {}

  /** Reads the store's totals from the metadata (one aggregate over the blobs table). */
  async refreshStored(): Promise<StoreUsage> {
    const row = await this.db
      .selectFrom("blobs")
      .select((eb) => [
        eb.fn.countAll<number>().as("blobs"),
        eb.fn.coalesce(eb.fn.sum<number>("size_bytes"), eb.val(0)).as("bytes"),
      ])
      .executeTakeFirstOrThrow();
    this.stored.blobs = Number(row.blobs);
    this.stored.bytes = Number(row.bytes);
    this.onStored(this.stored);
    return this.stored;
  }

  private counted(blobs: number, bytes: number): void {
    this.stored.blobs = Math.max(0, this.stored.blobs + blobs);
    this.stored.bytes = Math.max(0, this.stored.bytes + bytes);
    this.onStored(this.stored);
  }

  /** Bytes of live blobs the device holds (including partial uploads not yet expired). */
  async usage(deviceId: string, now = Date.now()): Promise<number> {
    const row = await this.db
      .selectFrom("blobs")
      .select((eb) => eb.fn.coalesce(eb.fn.sum<number>("size_bytes"), eb.val(0)).as("used"))
      .where("device_id", "=", deviceId)
      .where("expires_at", ">", now)
      .executeTakeFirstOrThrow();
    return Number(row.used);
  }

  async put(meta: storage.BlobMeta, chunks: AsyncIterable<Buffer>, now = Date.now()): Promise<storage.BlobInfo> {
    const deviceId = requireId("device_id", meta.deviceId);
    const sessionId = optionalId("session_id", meta.sessionId);
    if (!CONTENT_TYPE.test(meta.contentType) || meta.contentType.length > 128) {
      throw invalid("content_type must be a MIME type like image/jpeg");
    }
    if (!KIND.test(meta.kind)) throw invalid("kind must be 1-64 lower-case letters, digits, '-' or '_'");
    const ttlMs = meta.ttlSeconds ? meta.ttlSeconds * 1000 : this.limits.defaultTtlMs;
    if (ttlMs > this.limits.maxTtlMs) throw invalid(`ttl_seconds is above ${this.limits.maxTtlMs / 1000}`);

    const used = (await this.usage(deviceId, now)) + (this.inFlight.get(deviceId) ?? 0);
    const room = Math.min(this.limits.deviceQuotaBytes - used, this.limits.maxBlobBytes);
    if (room <= 0) throw exhausted("device blob quota is full");

    const id = randomUUID();
    const expiresAt = now + ttlMs;
    await this.db
      .insertInto("blobs")
      .values({
        id,
        device_id: deviceId,
        session_id: sessionId,
        kind: meta.kind,
        content_type: meta.contentType,
        size_bytes: 0,
        sha256: "",
        created_at: now,
        expires_at: expiresAt,
        ready: 0,
      })
      .execute();
    this.counted(1, 0);

    const hash = createHash("sha256");
    let size = 0;
    const quotaFull = this.limits.deviceQuotaBytes - used < this.limits.maxBlobBytes;
    const counted = async function* (this: Blobs) {
      for await (const chunk of chunks) {
        size += chunk.length;
        this.inFlight.set(deviceId, (this.inFlight.get(deviceId) ?? 0) + chunk.length);
        if (size > room) {
          throw quotaFull ? exhausted("device blob quota is full") : invalid(`blob is larger than ${room} bytes`);
        }
        hash.update(chunk);
        yield chunk;
      }
    }.call(this);
    try {
      await this.backend.put(id, counted);
      const sha256 = hash.digest("hex");
      await this.db.updateTable("blobs").set({ size_bytes: size, sha256, ready: 1 }).where("id", "=", id).execute();
      this.counted(0, size);
    } catch (err) {
      await this.backend.delete(id).catch(() => {});
      await this.db
        .deleteFrom("blobs")
        .where("id", "=", id)
        .execute()
        .then(
          () => this.counted(-1, 0),
          () => {},
        );
      throw err;
    } finally {
      const left = (this.inFlight.get(deviceId) ?? 0) - size;
      if (left > 0) this.inFlight.set(deviceId, left);
      else this.inFlight.delete(deviceId);
    }
    return this.info(id, now);
  }

  /** A complete, unexpired blob's metadata; NOT_FOUND otherwise. */
  async info(id: string, now = Date.now()): Promise<storage.BlobInfo> {
    requireId("id", id);
    const row = await this.db
      .selectFrom("blobs")
      .selectAll()
      .where("id", "=", id)
      .where("ready", "=", 1)
      .where("expires_at", ">", now)
      .executeTakeFirst();
    if (!row) throw notFound("no such blob");
    return toBlobInfo(row);
  }

  async open(id: string, now = Date.now()): Promise<{ info: storage.BlobInfo; data: AsyncIterable<Uint8Array> }> {
    const info = await this.info(id, now);
    const data = await this.backend.get(id);
    if (!data) throw notFound("no such blob");
    return { info, data };
  }

  async delete(id: string): Promise<void> {
    requireId("id", id);
    const row = await this.db.selectFrom("blobs").select(["id", "size_bytes"]).where("id", "=", id).executeTakeFirst();
    if (!row) throw notFound("no such blob");
    await this.backend.delete(id);
    const deleted = await this.db.transaction().execute(async (tx) => {
      await tx.deleteFrom("download_tokens").where("blob_id", "=", id).execute();
      return tx.deleteFrom("blobs").where("id", "=", id).executeTakeFirst();
    });
    if (deleted.numDeletedRows > 0n) this.counted(-1, -row.size_bytes);
  }

  /** Removes up to `max` expired blobs (bytes first, then rows); returns how many. */
  async deleteExpired(now: number, max: number): Promise<number> {
    const rows = await this.db
      .selectFrom("blobs")
      .select(["id", "size_bytes"])
      .where("expires_at", "<=", now)
      .limit(max)
      .execute();
    for (const { id, size_bytes } of rows) {
      await this.backend.delete(id);
      const deleted = await this.db.deleteFrom("blobs").where("id", "=", id).executeTakeFirst();
      // Another replica's retention may have removed it first: counted once, by whoever deleted the row.
      if (deleted.numDeletedRows > 0n) this.counted(-1, -size_bytes);
    }
    return rows.length;
  }
}
