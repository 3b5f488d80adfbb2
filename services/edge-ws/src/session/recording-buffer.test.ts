import assert from "node:assert/strict";
import { mkdtemp, readdir, rm } from "node:fs/promises";
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
