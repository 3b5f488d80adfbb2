import assert from "node:assert/strict";
import { mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { RecordingBuffer, sweepSpillDir } from "./recording-buffer";

test("spill - files are private (folder 0700, file 0600) and created exclusively", async () => {
  const dir = join(await mkdtemp(join(tmpdir(), "hotpin-spill-")), "spill");
  const b = new RecordingBuffer({ memoryBytes: 0, dir, diskQuotaBytes: 1e6 });
  b.append(Buffer.alloc(1000, 1));
  assert.equal((await b.read()).length, 1000);
  assert.equal((await stat(dir)).mode & 0o777, 0o700);
  const [name] = await readdir(dir);
  assert.match(String(name), new RegExp(`^rec-${process.pid}-`));
  assert.equal((await stat(join(dir, String(name)))).mode & 0o777, 0o600);
  await b.dispose();
  assert.deepEqual(await readdir(dir), []);
});

test("spill - a folder removed while the edge runs is made again, private, for the next recording", async () => {
  const dir = join(await mkdtemp(join(tmpdir(), "hotpin-spill-")), "spill");
  const first = new RecordingBuffer({ memoryBytes: 0, dir, diskQuotaBytes: 1e6 });
  first.append(Buffer.alloc(10, 1));
  assert.equal((await first.read()).length, 10);
  await first.dispose();
  await rm(dir, { recursive: true });
  const next = new RecordingBuffer({ memoryBytes: 0, dir, diskQuotaBytes: 1e6 });
  next.append(Buffer.alloc(20, 2));
  assert.deepEqual(await next.read(), Buffer.alloc(20, 2));
  assert.equal((await stat(dir)).mode & 0o777, 0o700);
  await next.dispose();
  assert.deepEqual(await readdir(dir), []);
});

test("spill - start-up sweeps files of dead processes and keeps those of live ones", async () => {
  const dir = await mkdtemp(join(tmpdir(), "hotpin-spill-"));
  const uuid = "0b6f9a6e-1c2d-4e5f-8a9b-0c1d2e3f4a5b";
  const dead = `rec-999999999-${uuid}.pcm`;
  const live = `rec-${process.ppid}-${uuid}.pcm`;
  for (const n of [dead, live, "unrelated.txt"]) await writeFile(join(dir, n), "x");
  assert.equal(await sweepSpillDir(dir), 1);
  assert.deepEqual((await readdir(dir)).sort(), [live, "unrelated.txt"].sort());
  assert.equal((await stat(dir)).mode & 0o777, 0o700);
  assert.equal(await sweepSpillDir(join(dir, "missing")), 0);
});
