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

test("stt pocketsphinx - word times count from the stream's start across speech pieces and pauses", async () => {
  await using stt = await startTestStt({
    HOTPIN_STT_ENGINE: "pocketsphinx",
    HOTPIN_STT_WORKERS: "1",
    HOTPIN_STT_STREAMS_PER_WORKER: "1",
  });
  const goforward = readFileSync(join(TEST_DATA, "goforward.raw"));
  const numbers = readFileSync(join(TEST_DATA, "numbers.raw"));
  const ms = (n: number) => n * 32; // bytes of 16 kHz PCM16
  const cases = [
    // Two utterances apart: the decoder cuts them into two pieces and drops the silence.
    { first: goforward, gapMs: 1500, second: numbers },
    // A pause just over -vad_postspeech that ends inside a segmentation check window: the VAD
    // leaves and re-enters speech within one piece (the library gave every word seconds late).
    { first: goforward.subarray(0, ms(2150)), gapMs: 550, second: numbers.subarray(ms(330), ms(2000)) },
  ];
  for (const { first, gapMs, second } of cases) {
    const audio = Buffer.concat([first, Buffer.alloc(ms(gapMs)), second]);
    const durationMs = audio.length / 32;
    const secondStartMs = first.length / 32 + gapMs;
    const words = (await recognize(stt.client, audio, {}, 4096)).final?.words ?? [];
    const label = `gap ${gapMs} ms: ${words.map((w) => `${w.word}@${w.startMs}-${w.endMs}`).join(" ")}`;
    assert.equal(words[0]?.word, "go", label);
    assert.ok((words[0]?.startMs ?? 0) < 1000, label);
    const thirty = words.find((w) => w.word === "thirty");
    assert.ok(thirty, label);
    // Not before the second utterance starts (a little for the decoder's frame offsets).
    assert.ok(thirty.startMs >= secondStartMs - 100, label);
    assert.ok(thirty.startMs < secondStartMs + 1000, label);
    for (const [i, w] of words.entries()) {
      assert.ok(w.startMs <= w.endMs, label);
      assert.ok(w.endMs <= durationMs, label);
      if (i > 0) assert.ok(w.startMs >= (words[i - 1]?.endMs ?? 0) - 10, label);
    }
  }
});
