import assert from "node:assert/strict";
import { test } from "node:test";
import { tts } from "@hotpin/contracts";
import { InvalidRequestError } from "./errors";
import { type PlanLimits, planRequest } from "./request-plan";

const limits: PlanLimits = {
  voice: "en-us",
  rateWpm: 175,
  pitch: 50,
  maxBytes: 959_956,
  maxBytesCeiling: 1_000_001,
  maxTextChars: 200,
  maxSentences: 3,
  maxSentenceChars: 100,
};
const req = (over: Partial<tts.SynthesizeRequest>) => tts.SynthesizeRequest.fromPartial(over);

test("request plan - applies service defaults for zero values", () => {
  const p = planRequest(req({ text: "Hi. Bye." }), limits);
  assert.deepEqual(p, {
    sentences: ["Hi.", "Bye."],
    voice: "en-us",
    rateWpm: 175,
    pitch: 50,
    sampleRateHz: 16_000,
    maxBytes: 959_956,
  });
});

test("request plan - takes the caller's voice and lowers an excessive byte cap to an even ceiling", () => {
  const p = planRequest(
    req({ sentences: ["One"], voice: { name: "en+f3", rateWpm: 200, pitch: 70 }, sampleRateHz: 8_000, maxBytes: 5e6 }),
    limits,
  );
  assert.equal(p.voice, "en+f3");
  assert.equal(p.rateWpm, 200);
  assert.equal(p.pitch, 70);
  assert.equal(p.sampleRateHz, 8_000);
  assert.equal(p.maxBytes, 1_000_000);
});

test("request plan - rejects what it cannot run with a reason", () => {
  const bad: Array<Partial<tts.SynthesizeRequest>> = [
    {},
    { text: "a", sentences: ["b"] },
    { text: "x".repeat(201) },
    { sentences: ["a", "b", "c", "d"] },
    { text: "A. B. C. D." },
    { text: "a", voice: { name: "../../etc/passwd", rateWpm: 0, pitch: 0 } },
    { text: "a", voice: { name: "-w/tmp/x", rateWpm: 0, pitch: 0 } },
    { text: "a", voice: { name: "", rateWpm: 20, pitch: 0 } },
    { text: "a", voice: { name: "", rateWpm: 0, pitch: 100 } },
    { text: "a", sampleRateHz: 96_000 },
  ];
  for (const r of bad) assert.throws(() => planRequest(req(r), limits), InvalidRequestError, JSON.stringify(r));
});
