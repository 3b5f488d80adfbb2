import assert from "node:assert/strict";
import { test } from "node:test";
import { stt } from "@hotpin/contracts";
import { sttService } from "./stt-client";

// Lengths around every varint boundary, the firmware's 4096-byte frame, a replayed piece.
const LENGTHS = [0, 1, 127, 128, 4096, 16_383, 16_384, 32_000, 2_097_152];

test("stt client - audio requests are encoded byte for byte as the generated encoder does", () => {
  for (const n of LENGTHS) {
    const pcm = Buffer.alloc(n, n % 251);
    const rec: stt.RecognizeRequest = { request: { $case: "audio", value: pcm } };
    const spot: stt.SpotRequest = { request: { $case: "audio", value: pcm } };
    assert.deepEqual(
      sttService.recognize.requestSerialize(rec),
      stt.SpeechToTextService.recognize.requestSerialize(rec),
    );
    assert.deepEqual(sttService.spot.requestSerialize(spot), stt.SpeechToTextService.spot.requestSerialize(spot));
    assert.deepEqual(stt.RecognizeRequest.decode(sttService.recognize.requestSerialize(rec)), rec, `length ${n}`);
  }
});

test("stt client - a config request goes through the generated encoder", () => {
  const rec: stt.RecognizeRequest = {
    request: {
      $case: "config",
      value: {
        sampleRateHz: 16_000,
        language: "en",
        partialResults: true,
        engine: "",
        deviceId: "pin",
        sessionId: "s",
      },
    },
  };
  assert.deepEqual(stt.RecognizeRequest.decode(sttService.recognize.requestSerialize(rec)), rec);
});
