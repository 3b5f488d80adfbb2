import { createHash, randomBytes } from "node:crypto";
import type { storage } from "@hotpin/contracts";
import type { Kysely } from "kysely";
import type { Blobs } from "./blobs/blobs";
import type { Database } from "./db/schema";
import { invalid, notFound, requireId } from "./errors";

export interface TokenLimits {
  defaultTtlMs: number;
  maxTtlMs: number;
}

/** 32 random bytes, base64url: 256 bits, well above the 128 the contract asks for. */
const TOKEN_BYTES = 32;
const TOKEN = /^[A-Za-z0-9_-]{43}$/;

const digest = (token: string) => createHash("sha256").update(token).digest("hex");

/** Unguessable, expiring links to one blob (seed 000: offer_download). Only hashes are stored. */
export class DownloadTokens {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly blobs: Blobs,
    private readonly limits: TokenLimits,
  ) {}

  async create(req: storage.CreateDownloadTokenRequest, now = Date.now()): Promise<storage.DownloadToken> {
    const blobId = requireId("blob_id", req.blobId);
    const ttlMs = req.ttlSeconds ? req.ttlSeconds * 1000 : this.limits.defaultTtlMs;
    if (ttlMs > this.limits.maxTtlMs) throw invalid(`ttl_seconds is above ${this.limits.maxTtlMs / 1000}`);
    const blob = await this.blobs.info(blobId, now);
    // A link never outlives its blob.
    const expiresAt = Math.min(now + ttlMs, blob.expiresAt?.getTime() ?? now);
    const token = randomBytes(TOKEN_BYTES).toString("base64url");
    await this.db
      .insertInto("download_tokens")
      .values({ token_hash: digest(token), blob_id: blobId, created_at: now, expires_at: expiresAt })
      .execute();
    return { token, blobId, expiresAt: new Date(expiresAt) };
  }

  async resolve(req: storage.ResolveDownloadTokenRequest, now = Date.now()): Promise<storage.BlobInfo> {
    if (!TOKEN.test(req.token)) throw notFound("no such download token");
    const row = await this.db
      .selectFrom("download_tokens")
      .select("blob_id")
      .where("token_hash", "=", digest(req.token))
      .where("expires_at", ">", now)
      .executeTakeFirst();
    if (!row) throw notFound("no such download token");
    return this.blobs.info(row.blob_id, now);
  }
}
