import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { parseWav } from "@hotpin/audio";
import { recognize, startTestStt, TEST_DATA } from "../testing/harness";

const MODEL = "/usr/share/pocketsphinx/model/en-us";
const librivox = (id: string) =>
  parseWav(readFileSync(join(TEST_DATA, "librivox", `sense_and_sensibility_01_austen_64kb-${id}.wav`))).data;

function cliText(pcm: Buffer): string {
  const dir = mkdtempSync(join(tmpdir(), "stt-cli-"));
  try {
    const raw = join(dir, "in.raw");
    writeFileSync(raw, pcm);
    const run = spawnSync(
      "pocketsphinx_continuous",
      [
        "-infile",
        raw,
        "-hmm",
        `${MODEL}/en-us`,
        "-lm",
        `${MODEL}/en-us.lm.bin`,
        "-dict",
        `${MODEL}/cmudict-en-us.dict`,
      ],
      { encoding: "utf8", timeout: 60_000 },
    );
    assert.equal(run.status, 0, run.stderr);
    return run.stdout.split("\n").filter(Boolean).join(" ");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("stt pocketsphinx - a reused decoder gives pocketsphinx_continuous's text whatever the chunk sizes", async () => {
  // One decoder for every stream, so each one inherits whatever the previous left behind.
  await using stt = await startTestStt({
    HOTPIN_STT_ENGINE: "pocketsphinx",
    HOTPIN_STT_WORKERS: "1",
    HOTPIN_STT_STREAMS_PER_WORKER: "1",
    HOTPIN_STT_WARM_RECOGNIZERS: "1",
  });
  const audio = librivox("0880");
  const expected = cliText(audio);
  assert.ok(expected.length > 0);
  // A different speaker turn first: its cepstral mean must not carry over.
  await recognize(stt.client, librivox("0930"));
  for (const chunk of [4096, 1000, 7778]) {
    const out = await recognize(stt.client, audio, { partialResults: true }, chunk);
    assert.equal(out.final?.text, expected, `chunks of ${chunk} bytes`);
  }
});
