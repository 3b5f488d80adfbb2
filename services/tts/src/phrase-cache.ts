import { createHash } from "node:crypto";

export interface PhraseKey {
  text: string;
  voice: string;
  rateWpm: number;
  pitch: number;
  sampleRateHz: number;
}

/**
 * Least-recently-used cache of synthesised PCM for fixed phrases (re-record prompts, spoken
 * errors), bounded by total bytes. Keys are SHA-256 digests so the cache never holds user text.
 * A Map keeps insertion order, which is all an LRU needs: a hit re-inserts the entry at the end.
 */
export class PhraseCache {
  private readonly entries = new Map<string, Buffer>();
  private used = 0;

  constructor(
    readonly maxBytes: number,
    /** Largest single entry; bigger phrases are not worth evicting many small ones for. */
    readonly maxEntryBytes: number = Math.floor(maxBytes / 8),
  ) {}

  static key(k: PhraseKey): string {
    return createHash("sha256")
      .update(JSON.stringify([k.text, k.voice, k.rateWpm, k.pitch, k.sampleRateHz]))
      .digest("base64url");
  }

  get bytes(): number {
    return this.used;
  }

  get size(): number {
    return this.entries.size;
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  get(key: string): Buffer | undefined {
    const pcm = this.entries.get(key);
    if (pcm) {
      this.entries.delete(key);
      this.entries.set(key, pcm);
    }
    return pcm;
  }

  /** Stores a copy-free reference; returns false when the entry is too big to keep. */
  set(key: string, pcm: Buffer): boolean {
    if (pcm.length > this.maxEntryBytes || pcm.length > this.maxBytes) return false;
    const old = this.entries.get(key);
    if (old) {
      this.entries.delete(key);
      this.used -= old.length;
    }
    this.entries.set(key, pcm);
    this.used += pcm.length;
    for (const [k, v] of this.entries) {
      if (this.used <= this.maxBytes) break;
      this.entries.delete(k);
      this.used -= v.length;
    }
    return true;
  }

  clear(): void {
    this.entries.clear();
    this.used = 0;
  }
}
