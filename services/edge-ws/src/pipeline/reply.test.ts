import assert from "node:assert/strict";
import { test } from "node:test";
import { startPeers } from "../test-peers.test-util";
import { speakText } from "./reply";
import { closeServices, connectServices } from "./services";

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
