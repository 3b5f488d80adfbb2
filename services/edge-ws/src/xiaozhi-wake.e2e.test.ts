import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { runXiaozhiDevice } from "@hotpin/sim";
import { GOFORWARD, meshSkip, useMesh } from "./mesh-fixture.test-util";

/**
 * A xiaozhi device that spots its wake word itself (`listen detect`) on an edge that requires
 * wake words (HOTPIN_EDGE_WAKE_WORDS=required): its detection opens the window as the server's
 * own would, so its turn is answered; the same speech without it is not.
 */
const skip = meshSkip("xiaozhi wake-word mesh tests");
const DEVICES = ["a1:b2:c3:d4:e5:21", "a1:b2:c3:d4:e5:22"];
const fx = useMesh(skip, "Moving forward now.", {
  env: { HOTPIN_EDGE_WAKE_WORDS: "required" },
  serviceEnv: { edge: { HOTPIN_EDGE_XIAOZHI_DEVICES: DEVICES.join(","), HOTPIN_EDGE_MIN_CONFIDENCE: "0.3" } },
});

/** `hotpin_edge_wake_words_total{source}` or `hotpin_edge_utterances_total{outcome}` from the edge's /metrics. */
async function counter(name: string, label: string, value: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${fx.mesh.mesh.ports.edge.metricsPort}/metrics`)).text();
  const m = new RegExp(`^${name}\\{${label}="${value}"[^}]*\\} (\\S+)$`, "m").exec(text);
  return m ? Number(m[1]) : 0;
}

const device = (deviceId: string, wakeWord?: string) =>
  runXiaozhiDevice({
    otaUrl: `${fx.mesh.edgeUrl}/xiaozhi/ota/`,
    deviceId,
    clientId: `c0ffee00-0000-4000-8000-${deviceId.replaceAll(":", "")}`,
    pcm: readFileSync(GOFORWARD),
    turns: [{ mode: "auto" }],
    pacing: "realtime",
    maxTrailingSilenceMs: 3_000,
    replyTimeoutMs: 60_000,
    ...(wakeWord ? { wakeWord } : {}),
  });

test("xiaozhi wake words - required: the device's own listen detect gets its turn answered; without it the turn is dropped", {
  skip,
}, async () => {
  const chats = fx.groq.chatRequests().length;
  const deviceWakes = await counter("hotpin_edge_wake_words_total", "source", "device");
  const answered = await device(DEVICES[0] as string, "hey hotpin");
  assert.equal(answered.error, undefined, `${JSON.stringify(answered.error)} ${answered.warnings.join("; ")}`);
  assert.match(answered.turns[0]?.transcript ?? "", /go forward/);
  assert.equal(fx.groq.chatRequests().length, chats + 1);
  assert.equal(await counter("hotpin_edge_wake_words_total", "source", "device"), deviceWakes + 1);

  const dropped = await counter("hotpin_edge_utterances_total", "outcome", "no_wake_word");
  const ignored = await device(DEVICES[1] as string);
  assert.match(ignored.error?.message ?? "", /did not end the turn/, "no answer without a wake word");
  assert.equal(fx.groq.chatRequests().length, chats + 1, "nothing more reached the LLM");
  assert.equal(await counter("hotpin_edge_utterances_total", "outcome", "no_wake_word"), dropped + 1);
});
