import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { runSesameDevice } from "@hotpin/sim";
import { TEST_TOKEN_SECRET as SECRET, spokenPcm16k } from "@hotpin/test-support";
import { WebSocket } from "ws";
import { issueToken } from "./auth";
import { GOFORWARD, meshSkip, useMesh } from "./mesh-fixture.test-util";

/**
 * Wake words on an always-listening session (HOTPIN_EDGE_WAKE_WORDS=required), through the whole
 * mesh: the STT service spots the Sesame-style client's continuous stream, each detection is a
 * `wake_word` event on /events, and only a turn after a wake word reaches the LLM.
 */
const skip = meshSkip("wake-word mesh tests");
const fx = useMesh(skip, "Moving forward now.", { env: { HOTPIN_EDGE_WAKE_WORDS: "required" } });

/** `hotpin_edge_utterances_total{outcome}` from the edge's /metrics. */
async function utterances(outcome: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${fx.mesh.mesh.ports.edge.metricsPort}/metrics`)).text();
  const m = new RegExp(`^hotpin_edge_utterances_total\\{outcome="${outcome}"[^}]*\\} (\\S+)$`, "m").exec(text);
  return m ? Number(m[1]) : 0;
}

/** Every /events message about one device, as it arrives. */
async function observe(
  deviceId: string,
  token: string,
): Promise<{ messages: Record<string, unknown>[]; close(): void }> {
  const ws = new WebSocket(`${fx.mesh.edgeUrl.replace("http", "ws")}/events?device=${deviceId}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  const messages: Record<string, unknown>[] = [];
  ws.on("message", (data) => messages.push(JSON.parse(String(data)) as Record<string, unknown>));
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  return { messages, close: () => ws.close() };
}

test("wake words mesh - required: speech without the wake word is dropped; 'hey hotpin, …' is answered and its wake_word reaches /events", {
  skip,
}, async () => {
  const deviceId = "sesame-wake-1";
  const token = await issueToken(SECRET, deviceId, 3600);
  const events = await observe(deviceId, token); // a device token observes its own device
  try {
    // No wake word: the VAD ends the turn (2.5 s of silence after it: window, grace and more), nobody answers.
    const chatsBefore = fx.groq.chatRequests().length;
    const droppedBefore = await utterances("no_wake_word");
    const plain = Buffer.concat([readFileSync(GOFORWARD), Buffer.alloc(2 * 16_000 * 2.5)]);
    const ignored = await runSesameDevice({ url: fx.mesh.edgeUrl, token, pcm: plain, expectReplies: false });
    assert.equal(ignored.error, undefined, JSON.stringify(ignored.error));
    assert.equal(await utterances("no_wake_word"), droppedBefore + 1, "the turn was dropped for want of a wake word");
    assert.equal(fx.groq.chatRequests().length, chatsBefore, "nothing reached the LLM");
    assert.ok(!events.messages.some((m) => m.event === "wake_word"), "no wake word was heard in 'go forward'");

    // The wake phrase, then the command (a second turn, inside the window): it is answered, and
    // the detection is an event in seed 003's shape. espeak-ng's phrase is the wake word
    // PocketSphinx spots; the command is real speech, which PocketSphinx transcribes with confidence.
    const woken = await runSesameDevice({
      url: fx.mesh.edgeUrl,
      token,
      pcm: Buffer.concat([spokenPcm16k("hey hotpin"), readFileSync(GOFORWARD)]),
      utterances: 1,
    });
    assert.equal(woken.error, undefined, JSON.stringify(woken.error));
    const [turn] = woken.turns;
    assert.ok(
      turn?.firstAudioMs !== undefined && turn.replyPcm.length > 0,
      "the turn after the wake word was answered",
    );
    const chats = fx.groq.chatRequests().slice(chatsBefore);
    assert.ok(chats.length >= 1, "the command reached the LLM");
    const said = (chats.at(-1)?.body as { messages?: { content: unknown }[] } | undefined)?.messages?.at(-1)?.content;
    assert.match(String(said), /go forward/i, "the transcript after the wake word reached the LLM");
    const wake = events.messages.find((m) => m.event === "wake_word");
    assert.ok(wake, `a wake_word event on /events (got ${events.messages.map((m) => m.event).join(", ")})`);
    assert.equal(wake.word, "hey hotpin");
    assert.equal(wake.source, "server");
    assert.ok(typeof wake.confidence === "number" && wake.confidence > 0 && wake.confidence <= 1);
    assert.equal(typeof wake.timestamp, "number");
  } finally {
    events.close();
  }
});
