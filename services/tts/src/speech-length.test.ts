import assert from "node:assert/strict";
import { test } from "node:test";
import { EspeakEngine } from "./espeak-engine";
import { speechBytesBound } from "./speech-length";

const engine = new EspeakEngine({ espeakBin: "espeak-ng", soxBin: "sox", timeoutMs: 10_000 });

// Ordinary sentences and the worst cases found by hand: spelled letters, long numbers, symbols
// said as words, other scripts and emoji.
const SAMPLES = [
  "The quick brown fox jumps over the lazy dog while the weather forecast promises rain for the rest of the week.",
  "Turn left at the door, then walk ten meters.",
  "WWWWWWWWWW www.example.com XKCD",
  "7777777777777 and 0.0000000001 and 1e9",
  "+ + $ $ = = * * % % \\ \\",
  "ⅦⅦⅦⅦ ﷺﷺ 😀😀😀",
  "Mr. Smith, etc., vs. Dr. Jones (approx.)",
];

for (const rateWpm of [80, 175, 450]) {
  test(`speech length - the bound is never below what espeak-ng says at ${rateWpm} wpm`, async () => {
    for (const text of SAMPLES) {
      const r = await engine.synthesize({
        voice: "en-us",
        rateWpm,
        pitch: 50,
        text,
        sampleRateHz: 16_000,
        maxBytes: 1 << 26,
      });
      assert.ok(!r.overflow);
      const bound = speechBytesBound(text, rateWpm, 16_000);
      assert.ok(r.pcm.length <= bound, `${JSON.stringify(text)}: ${r.pcm.length} bytes > bound ${bound}`);
    }
  });
}

test("speech length - an ordinary first sentence streams under the default byte cap", () => {
  // 21 words: about 5.9 s said; the bound stays under the 959 956-byte default cap (30 s).
  assert.ok(speechBytesBound(SAMPLES[0] as string, 175, 16_000) < 959_956);
});
