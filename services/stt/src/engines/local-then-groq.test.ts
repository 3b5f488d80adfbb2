import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type FakeGroq, startFakeGroq } from "@hotpin/test-support";
import { goforward, recognize, startTestStt, type TestStt } from "../testing/harness";

// One service for the file: auto, a Groq key, no Vosk model; a short final deadline so the
// "late" case stays quick.
describe("stt auto with a Groq key and no Vosk model", () => {
  let groq: FakeGroq;
  let stt: TestStt;
  before(async () => {
    groq = await startFakeGroq({ apiKey: "test-key", transcription: "Go forward ten metres." });
    stt = await startTestStt({
      GROQ_API_KEY: "test-key",
      GROQ_BASE_URL: groq.url,
      HOTPIN_STT_WORKERS: "1",
      HOTPIN_STT_GROQ_FINAL_DEADLINE_MS: "1500",
    });
  });
  after(async () => {
    await stt?.[Symbol.asyncDispose]();
    await groq?.[Symbol.asyncDispose]();
  });
  const finals = (source: string, reason: string) =>
    stt.registry
      .getSingleMetric("hotpin_stt_combined_finals_total")
      ?.get()
      .then((m) => m.values.find((v) => v.labels.source === source && v.labels.reason === reason)?.value ?? 0);

  test("stt auto - picks pocketsphinx+groq: local partials, Groq Whisper's final", async () => {
    assert.equal(stt.service.selection.preferred, "pocketsphinx+groq");
    assert.match(stt.service.selection.reason, /vosk: /);
    groq.setLatency({ firstTokenMs: 0 });
    const out = await recognize(stt.client, goforward());
    assert.equal(out.error, undefined);
    assert.ok(out.partials.length >= 2, "partials come from pocketsphinx while the audio arrives");
    assert.match(out.partials.at(-1)?.text ?? "", /go forward/);
    assert.equal(out.final?.engine, "groq");
    assert.equal(out.final?.text, "Go forward ten metres.");
    assert.equal(out.final?.quality?.durationMs, 2786);
    const sent = groq.requests.filter((r) => r.route === "transcription").at(-1);
    assert.equal((sent?.body.file.bytes as Buffer | undefined)?.length, 44 + goforward().length);
    assert.equal(await finals("groq", "ok"), 1);
  });

  test("stt auto - Groq failing gives the local final, counted as a fallback", async () => {
    groq.setLatency({ firstTokenMs: 0 });
    groq.failNext({ kind: "server-error", status: 503 });
    const out = await recognize(stt.client, goforward());
    assert.equal(out.error, undefined);
    assert.equal(out.final?.engine, "pocketsphinx");
    assert.equal(out.final?.text, "go forward ten meters");
    assert.equal(await finals("pocketsphinx", "error"), 1);
  });

  test("stt auto - Groq slower than the deadline gives the local final", async () => {
    // Far past the deadline (and below the 30 s request timeout, which would count as an error).
    groq.setLatency({ firstTokenMs: 20_000 });
    const out = await recognize(stt.client, goforward());
    groq.setLatency({ firstTokenMs: 0 });
    assert.equal(out.error, undefined);
    assert.equal(out.final?.engine, "pocketsphinx");
    assert.equal(out.final?.text, "go forward ten meters");
    assert.equal(await finals("pocketsphinx", "deadline"), 1);
  });

  test("stt auto - a stream may still ask for pocketsphinx alone", async () => {
    const before = groq.requests.length;
    const out = await recognize(stt.client, goforward(), { engine: "pocketsphinx" });
    assert.equal(out.final?.engine, "pocketsphinx");
    assert.equal(out.final?.text, "go forward ten meters");
    assert.equal(groq.requests.length, before, "nothing was sent to Groq");
  });
});
