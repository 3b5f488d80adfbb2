import assert from "node:assert/strict";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { DiskQuotaError, RecordingBuffer } from "./recording-buffer";

test("recording buffer - spills past the memory threshold and reads back in order", async () => {
  const dir = await mkdtemp(join(tmpdir(), "edge-rec-"));
  try {
    const buf = new RecordingBuffer({ memoryBytes: 8, dir, diskQuotaBytes: 1000 });
    const parts = [Buffer.from("aaaa"), Buffer.from("bbbb"), Buffer.from("cccc"), Buffer.from("dd")];
    for (const p of parts) buf.append(p);
    assert.equal(buf.spilledBytes, 6);
    assert.equal((await buf.read()).toString(), "aaaabbbbccccdd");
    assert.equal((await readdir(dir)).length, 1);
    await buf.dispose();
    assert.deepEqual(await readdir(dir), []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("recording buffer - refuses audio beyond the disk quota", async () => {
  const dir = await mkdtemp(join(tmpdir(), "edge-rec-"));
  try {
    const buf = new RecordingBuffer({ memoryBytes: 0, dir, diskQuotaBytes: 6 });
    buf.append(Buffer.alloc(4));
    assert.throws(() => buf.append(Buffer.alloc(4)), DiskQuotaError);
    await buf.dispose();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("recording buffer - a spill that cannot be written loses the copy, not the recording", async () => {
  const dir = await mkdtemp(join(tmpdir(), "edge-rec-"));
  try {
    // The spill folder is a file: opening the spill file fails, as on a full or missing disk.
    const notADir = join(dir, "file");
    await writeFile(notADir, "");
    const buf = new RecordingBuffer({ memoryBytes: 4, dir: notADir, diskQuotaBytes: 1 << 20 });
    buf.append(Buffer.alloc(4));
    for (let i = 0; i < 3; i++) buf.append(Buffer.alloc(32 * 1024));
    await assert.rejects(buf.read(), /EEXIST|ENOTDIR/);
    buf.append(Buffer.alloc(1024));
    assert.equal(buf.bytes, 4 + 3 * 32 * 1024 + 1024);
    await assert.rejects(buf.read(), /EEXIST|ENOTDIR/);
    await buf.dispose();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
