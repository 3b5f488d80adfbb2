import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { Readable } from "node:stream";
import { test } from "node:test";
import type { llm } from "@hotpin/contracts";
import { startPeers } from "../test-peers.test-util";
import { speakAnswer, speakText } from "./reply";
import { closeServices, connectServices, type Services } from "./services";

/** Turns of the event loop until `ready()` holds; fails past `turns` (bounded, no clock). */
async function until(ready: () => boolean, what: string, turns = 200): Promise<void> {
  for (let i = 0; i < turns && !ready(); i++) await new Promise((r) => setImmediate(r));
  assert.ok(ready(), what);
}

test("reply - a TTS stream that fails before playback reads it is a tts_failed error, not a crash", async () => {
  const peers = await startPeers({ transcript: "", llm: "ok", ttsFails: true });
  const services = connectServices({
    stt: peers.address,
    llm: peers.address,
    tts: peers.address,
    storage: peers.address,
  });
  try {
    const reply = speakText(services, {
      deviceId: "pin",
      sessionId: "s",
      text: "Hello.",
      ttsTimeoutMs: 5_000,
      maxBytes: 1e6,
      sampleRateHz: 16_000,
    });
    // `say` waits for queued outputs before playback starts: the error arrives in that window.
    await new Promise((r) => setTimeout(r, 300));
    await assert.rejects(
      (async () => {
        for await (const _ of reply.segments) {
          // no audio expected
        }
      })(),
      (err: Error & { code?: string }) => err.code === "tts_failed",
    );
  } finally {
    closeServices(services);
    peers.stop();
  }
});

test("reply - the model's final text is reported while its last sentence is still synthesised; the answer follows that sentence", async () => {
  const said = "Hello there.";
  const responses: llm.ChatResponse[] = [
    { event: { $case: "segment", value: { index: 0, text: said } } },
    {
      event: {
        $case: "final",
        value: { text: said, usage: undefined, provider: "test", model: "m", finishReason: "stop" },
      },
    },
  ];
  const synthesis: EventEmitter[] = [];
  const services = {
    llm: { chat: () => Object.assign(Readable.from(responses), { cancel() {} }) },
    tts: {
      synthesize: () => {
        const call = Object.assign(new EventEmitter(), { cancel() {} });
        synthesis.push(call);
        return call;
      },
    },
  } as unknown as Services;
  const heard: string[] = [];
  const reply = speakAnswer(services, {
    deviceId: "pin",
    sessionId: "s",
    userText: "hi",
    history: [],
    llmTimeoutMs: 5_000,
    ttsTimeoutMs: 5_000,
    sampleRateHz: 16_000,
    maxBytes: 1e6,
    onFinal: (text, model) => heard.push(`final ${text} ${model}`),
    onAnswer: async (text) => void heard.push(`answer ${text}`),
  });
  const segments = reply.segments[Symbol.asyncIterator]();
  const first = segments.next();
  await until(() => synthesis.length === 1, "the sentence is being synthesised");
  await until(() => heard.length > 0, "the final text is known before the sentence's audio is ready");
  assert.deepEqual(heard, [`final ${said} m`]);
  const tts = synthesis[0] as EventEmitter;
  tts.emit("data", { event: { $case: "chunk", value: { pcm: Buffer.alloc(320), sentenceIndex: 0 } } });
  tts.emit("end");
  assert.equal((await first).value?.text, said);
  assert.deepEqual(heard, [`final ${said} m`], "the answer waits for its place after the sentence");
  assert.equal((await segments.next()).done, true);
  assert.deepEqual(heard, [`final ${said} m`, `answer ${said}`]);
  assert.equal(reply.text(), said);
});
