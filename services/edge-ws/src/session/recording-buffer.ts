import { randomUUID } from "node:crypto";
import type { FileHandle } from "node:fs/promises";
import { mkdir, open, readFile, rm } from "node:fs/promises";
import { join } from "node:path";

export class DiskQuotaError extends Error {
  override name = "DiskQuotaError";
}

export interface RecordingBufferOptions {
  memoryBytes: number;
  dir: string;
  /** Disk this recording may use; the session's quota less what it already uses. */
  diskQuotaBytes: number;
}

/**
 * One recording's audio: in memory up to a threshold, then appended to a temporary file, so a
 * long recording costs disk rather than heap. Kept so a failed STT stream can be retried with
 * the whole utterance; removed when the recording is done.
 */
export class RecordingBuffer {
  private memory: Buffer[] = [];
  private memoryBytes = 0;
  private file: { path: string; handle: Promise<FileHandle> } | undefined;
  private writes: Promise<unknown> = Promise.resolve();
  private diskBytes = 0;
  private failed: Error | undefined;
  bytes = 0;

  constructor(private readonly opts: RecordingBufferOptions) {}

  get spilledBytes(): number {
    return this.diskBytes;
  }

  /** Throws DiskQuotaError when the chunk would exceed the disk quota. */
  append(pcm: Buffer): void {
    if (this.failed) throw this.failed;
    this.bytes += pcm.length;
    if (!this.file && this.memoryBytes + pcm.length <= this.opts.memoryBytes) {
      this.memory.push(pcm);
      this.memoryBytes += pcm.length;
      return;
    }
    if (this.diskBytes + pcm.length > this.opts.diskQuotaBytes) {
      throw new DiskQuotaError("recording exceeds the session's disk quota");
    }
    this.diskBytes += pcm.length;
    if (!this.file) {
      const path = join(this.opts.dir, `rec-${randomUUID()}.pcm`);
      this.file = { path, handle: mkdir(this.opts.dir, { recursive: true }).then(() => open(path, "w", 0o600)) };
    }
    const { handle } = this.file;
    // Writes are chained so they land in order; a failure is reported on the next append.
    this.writes = this.writes
      .then(async () => (await handle).write(pcm))
      .catch((err: Error) => {
        this.failed = err;
      });
  }

  /** The whole recording, in order. */
  async read(): Promise<Buffer> {
    const head = Buffer.concat(this.memory);
    if (!this.file) return head;
    await this.writes;
    if (this.failed) throw this.failed;
    return Buffer.concat([head, await readFile(this.file.path)]);
  }

  async dispose(): Promise<void> {
    this.memory = [];
    this.memoryBytes = 0;
    const file = this.file;
    this.file = undefined;
    if (!file) return;
    await this.writes;
    await (await file.handle.catch(() => undefined))?.close().catch(() => undefined);
    await rm(file.path, { force: true });
  }
}
