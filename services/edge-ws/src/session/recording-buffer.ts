import { randomUUID } from "node:crypto";
import type { FileHandle } from "node:fs/promises";
import { chmod, mkdir, open, readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";

export class DiskQuotaError extends Error {
  override name = "DiskQuotaError";
}

/**
 * Spilled audio goes to the file in batches of this much (8 firmware chunks, 1 s of speech):
 * a file write costs the event loop about as much as the chunk's whole way to STT.
 */
const SPILL_BATCH_BYTES = 32 * 1024;

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
  /** Spilled chunks not yet written: a batch, and what arrives during the write in flight. */
  private queued: Buffer[] = [];
  private queuedBytes = 0;
  private flushing: Promise<void> | undefined;
  private diskBytes = 0;
  private failed: Error | undefined;
  bytes = 0;

  constructor(private readonly opts: RecordingBufferOptions) {}

  get spilledBytes(): number {
    return this.diskBytes;
  }

  /** Throws DiskQuotaError when the chunk would exceed the disk quota. */
  append(pcm: Buffer): void {
    this.bytes += pcm.length;
    // The copy is lost (see flush); the live STT stream goes on without it.
    if (this.failed) return;
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
      const path = join(this.opts.dir, `rec-${process.pid}-${randomUUID()}.pcm`);
      const handle = openSpillFile(this.opts.dir, path);
      // Seen by the flush that awaits it; until then a failure to open must not go unhandled.
      handle.catch(() => undefined);
      this.file = { path, handle };
    }
    this.queued.push(pcm);
    this.queuedBytes += pcm.length;
    if (this.queuedBytes >= SPILL_BATCH_BYTES) this.flushing ??= this.flush(this.file.handle, false);
  }

  /**
   * One writev in flight, in order, of whole batches (or of everything, for a read). A failure
   * (disk full, folder gone) loses the copy, not the recording: what is queued is freed, later
   * audio is not kept, and read() rejects with the failure, so only a fallback that needs the
   * copy fails, as a stage error.
   */
  private async flush(handle: Promise<FileHandle>, all: boolean): Promise<void> {
    try {
      const fh = await handle;
      while (this.queued.length > 0 && (all || this.queuedBytes >= SPILL_BATCH_BYTES)) {
        const chunks = this.queued;
        this.queued = [];
        this.queuedBytes = 0;
        await fh.writev(chunks);
      }
    } catch (err) {
      this.failed = err as Error;
      this.queued = [];
      this.queuedBytes = 0;
    } finally {
      this.flushing = undefined;
    }
  }

  /** Everything appended so far is in the file. */
  private async written(file: { handle: Promise<FileHandle> }): Promise<void> {
    while (this.flushing) await this.flushing;
    if (this.queued.length === 0) return;
    this.flushing = this.flush(file.handle, true);
    await this.flushing;
  }

  /** The whole recording, in order. */
  async read(): Promise<Buffer> {
    const head = Buffer.concat(this.memory);
    if (!this.file) return head;
    await this.written(this.file);
    if (this.failed) throw this.failed;
    return Buffer.concat([head, await readFile(this.file.path)]);
  }

  async dispose(): Promise<void> {
    this.memory = [];
    this.memoryBytes = 0;
    const file = this.file;
    this.file = undefined;
    if (!file) return;
    this.queued = [];
    this.queuedBytes = 0;
    await this.written(file);
    await (await file.handle.catch(() => undefined))?.close().catch(() => undefined);
    // A file that could not be removed is swept at the next start (sweepSpillDir).
    await rm(file.path, { force: true }).catch(() => undefined);
  }
}

const SPILL_FILE = /^rec-(\d+)-[0-9a-f-]{36}\.pcm$/;

/** Whether a process with this id is running (its spill files are still in use). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The spill folder, created private (0700) or made so. */
async function privateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
}

/** Folders this process has made private: once each, not once per recording. */
const preparedDirs = new Map<string, Promise<void>>();

function preparedDir(dir: string): Promise<void> {
  let ready = preparedDirs.get(dir);
  if (!ready) {
    ready = privateDir(dir);
    preparedDirs.set(dir, ready);
    ready.catch(() => preparedDirs.delete(dir));
  }
  return ready;
}

/**
 * A new spill file in the private folder, made again if it was removed since. "wx": never
 * follow or reuse a file someone else put there.
 */
async function openSpillFile(dir: string, path: string): Promise<FileHandle> {
  try {
    await preparedDir(dir);
    return await open(path, "wx", 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    preparedDirs.delete(dir);
    await preparedDir(dir);
    return open(path, "wx", 0o600);
  }
}

/**
 * At start-up: spill files left by a process that died mid-recording hold someone's speech and
 * are of no use to anyone; removes them (files of live processes stay) and returns how many.
 */
export async function sweepSpillDir(dir: string): Promise<number> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return 0;
  }
  await preparedDir(dir);
  // Several edge processes may share the folder: only files of processes gone are stale.
  const stale = names.filter((n) => {
    const m = SPILL_FILE.exec(n);
    return m !== null && (Number(m[1]) === process.pid || !alive(Number(m[1])));
  });
  await Promise.all(stale.map((n) => rm(join(dir, n), { force: true })));
  return stale.length;
}
