import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { grpc } from "@hotpin/runtime";
import { StreamingResampler } from "./audio/resampler";
import { baseConfig, collect, goforward, recognize, startTestStt, type TestStt, waitFor } from "./testing/harness";

describe("stt over gRPC with pocketsphinx", () => {
  let stt: TestStt;
  before(async () => {
    // Decoders ready up front (each takes ~0.3-0.5 s to load), so tests time the streams only.
    stt = await startTestStt({
      HOTPIN_STT_WORKERS: "2",
      HOTPIN_STT_STREAMS_PER_WORKER: "6",
      HOTPIN_STT_WARM_RECOGNIZERS: "6",
      HOTPIN_STT_IDLE_TIMEOUT_MS: "30000",
    });
  });
  after(async () => {
    await stt[Symbol.asyncDispose]();
  });

  test("stt - goforward.raw in 4096-byte chunks gives growing partials and the right final", async () => {
    const out = await recognize(stt.client, goforward());
    assert.equal(out.error, undefined);
    assert.ok(out.partials.length >= 3, `only ${out.partials.length} partials`);
    for (let i = 1; i < out.partials.length; i++) {
      assert.ok((out.partials[i]?.audioMs ?? 0) > (out.partials[i - 1]?.audioMs ?? 0), "partials move forward");
    }
    assert.equal(out.partials.at(-1)?.text, "go forward ten meters");
    const final = out.final;
    assert.ok(final);
    assert.equal(final.text, "go forward ten meters");
    assert.equal(final.engine, "pocketsphinx");
    assert.deepEqual(
      final.words.map((w) => w.word),
      ["go", "forward", "ten", "meters"],
    );
    for (const w of final.words) {
      assert.ok(w.endMs > w.startMs && w.endMs <= 2_800, `word timing ${w.startMs}..${w.endMs}`);
      assert.ok(w.confidence > 0 && w.confidence <= 1);
    }
    assert.ok(final.confidence > 0.5 && final.confidence <= 1, `confidence ${final.confidence}`);
    const q = final.quality;
    assert.ok(q);
    assert.equal(q.durationMs, 2786);
    assert.ok(q.rms > 50 && q.rms < 5000, `rms ${q.rms}`);
    assert.ok(q.peak > q.rms && q.peak <= 32767);
    assert.ok(q.speechRatio > 0.1 && q.speechRatio < 1, `speech ratio ${q.speechRatio}`);
    assert.equal(q.clippingRatio, 0);
  });

  test("stt - 10 concurrent streams all finish correctly", async () => {
    const audio = goforward();
    const outs = await Promise.all(Array.from({ length: 10 }, () => recognize(stt.client, audio)));
    for (const out of outs) {
      assert.equal(out.error, undefined);
      assert.equal(out.final?.text, "go forward ten meters");
    }
  });

  test("stt - 48 kHz audio is resampled and still recognised", async () => {
    const src = goforward();
    const up = new StreamingResampler(16_000, 48_000);
    const pcm = new Int16Array(src.buffer, src.byteOffset, src.length / 2);
    const a = up.push(pcm);
    const b = up.flush();
    const audio = Buffer.concat([Buffer.from(a.buffer), Buffer.from(b.buffer)]);
    const out = await recognize(stt.client, audio, { sampleRateHz: 48_000 });
    assert.equal(out.final?.text, "go forward ten meters");
    assert.ok(Math.abs((out.final?.quality?.durationMs ?? 0) - 2786) <= 2);
  });

  test("stt - RecognizeFile takes a WAV file", async () => {
    const { toWav } = await import("@hotpin/audio");
    const res = await new Promise<import("@hotpin/contracts").stt.RecognizeFileResponse>((resolve, reject) =>
      stt.client.recognizeFile({ config: undefined, audio: toWav(goforward()) }, (err, r) =>
        err ? reject(err) : resolve(r),
      ),
    );
    assert.equal(res.result?.text, "go forward ten meters");
  });

  test("stt - a stream cancelled midway frees its recognizer (no growth over 200 streams)", async () => {
    // From 0.4 s in, where the speech starts, so a hypothesis comes after a few chunks.
    const audio = goforward().subarray(12_800);
    const cancelOne = async (waitForPartial: boolean) => {
      const call = stt.client.recognize();
      const out = collect(call);
      call.write({ request: { $case: "config", value: { ...baseConfig(), partialResults: true } } });
      const partial = Promise.race([new Promise<void>((resolve) => call.once("data", () => resolve())), out]);
      const accepted = Promise.race([new Promise<void>((resolve) => call.once("metadata", () => resolve())), out]);
      for (let at = 0; at < (waitForPartial ? 8 : 2) * 4096; at += 4096) {
        call.write({ request: { $case: "audio", value: audio.subarray(at, at + 4096) } });
      }
      // With waitForPartial the engine has produced a hypothesis, so its recognizer is busy.
      // Otherwise cancel as soon as the server has given the stream a slot.
      await (waitForPartial ? partial : accepted);
      call.cancel();
      const end = await out;
      assert.equal(end.error?.code, grpc.status.CANCELLED, end.error?.details);
    };
    const round = async (n: number, waitForPartial: boolean) => {
      for (let i = 0; i < n; i += 10) {
        await Promise.all(Array.from({ length: 10 }, () => cancelOne(waitForPartial)));
        // The client learns of its cancel before the server does; wait until the slots are back.
        await waitFor(async () => (stt.service.pool.active === 0 ? true : undefined));
      }
    };
    await round(20, true);
    const rssBefore = process.memoryUsage().rss;
    await round(200, false);
    await round(20, true);
    const idle = await waitFor(async () => {
      const c = await stt.service.pool.counts();
      return c.live === 0 && c.streams === 0 ? c : undefined;
    });
    assert.ok(idle.idle <= stt.service.pool.capacity, `idle recognizers ${idle.idle}`);
    assert.equal(stt.service.pool.active, 0);
    const growthMb = (process.memoryUsage().rss - rssBefore) / 1e6;
    assert.ok(growthMb < 60, `rss grew ${growthMb.toFixed(1)} MB over 200 cancelled streams`);
    // The freed slots take new work.
    const out = await recognize(stt.client, goforward());
    assert.equal(out.final?.text, "go forward ten meters");
  });

  test("stt - bad input ends the stream with INVALID_ARGUMENT and the service carries on", async () => {
    const odd = await recognize(stt.client, Buffer.alloc(4097), {}, 4097);
    assert.equal(odd.error?.code, grpc.status.INVALID_ARGUMENT);
    const rate = await recognize(stt.client, Buffer.alloc(4096), { sampleRateHz: 96_000 });
    assert.equal(rate.error?.code, grpc.status.INVALID_ARGUMENT);
    const call = stt.client.recognize();
    const out = collect(call);
    call.write({ request: { $case: "audio", value: Buffer.alloc(4096) } });
    assert.equal((await out).error?.code, grpc.status.INVALID_ARGUMENT);
    const other = await recognize(stt.client, goforward(), { engine: "groq" });
    assert.equal(other.error?.code, grpc.status.FAILED_PRECONDITION);
    assert.match(other.error?.details ?? "", /groq unavailable/);
  });

  test("stt - metrics count streams and errors by code", async () => {
    const text = await stt.registry.metrics();
    assert.match(text, /hotpin_stt_streams_total\{engine="pocketsphinx",outcome="final"\} \d+/);
    assert.match(text, /hotpin_stt_errors_total\{code="INVALID_ARGUMENT"\} [1-9]/);
    assert.match(text, /hotpin_stt_real_time_factor_count\{engine="pocketsphinx"\} [1-9]/);
    assert.match(text, /hotpin_stt_pool_slots 12/);
    assert.doesNotMatch(text, /go forward/);
  });
});

describe("stt pool limits", () => {
  test("stt - a full pool answers RESOURCE_EXHAUSTED at once, and takes work again when freed", async () => {
    await using stt = await startTestStt({
      HOTPIN_STT_WORKERS: "1",
      HOTPIN_STT_STREAMS_PER_WORKER: "1",
      HOTPIN_STT_WARM_RECOGNIZERS: "0",
    });
    const first = stt.client.recognize();
    const firstOut = collect(first);
    first.write({ request: { $case: "config", value: baseConfig() } });
    // The refused call sends nothing at all: the answer cannot wait on anything but the pool.
    const second = stt.client.recognize();
    const refused = await collect(second);
    assert.equal(refused.error?.code, grpc.status.RESOURCE_EXHAUSTED);
    first.write({ request: { $case: "audio", value: goforward() } });
    first.end();
    assert.equal((await firstOut).final?.text, "go forward ten meters");
    const again = await recognize(stt.client, goforward());
    assert.equal(again.final?.text, "go forward ten meters");
    assert.match(await stt.registry.metrics(), /hotpin_stt_refused_total 1/);
  });

  test("stt - a stream silent for longer than the idle limit ends with DEADLINE_EXCEEDED", async () => {
    await using stt = await startTestStt({
      HOTPIN_STT_WORKERS: "1",
      HOTPIN_STT_STREAMS_PER_WORKER: "1",
      HOTPIN_STT_WARM_RECOGNIZERS: "0",
      HOTPIN_STT_IDLE_TIMEOUT_MS: "200",
    });
    const call = stt.client.recognize();
    const out = collect(call);
    call.write({ request: { $case: "config", value: baseConfig() } });
    const end = await out;
    assert.equal(end.error?.code, grpc.status.DEADLINE_EXCEEDED);
    const c = await waitFor(async () => {
      const counts = await stt.service.pool.counts();
      return counts.live === 0 ? counts : undefined;
    });
    assert.equal(c.streams, 0);
  });
});
