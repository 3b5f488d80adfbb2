import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { SESAME_PATH } from "@hotpin/sesame";
import { runSesameDevice, type TimelineEvent } from "@hotpin/sim";
import { type RecordedRequest, TEST_TOKEN_SECRET as SECRET, TEST_DEVICE_TOKEN } from "@hotpin/test-support";
import { DEFAULT_LISTENER_OPTIONS } from "@hotpin/vad";
import { speechSpan } from "@hotpin/vad/dist/testing";
import { WebSocket } from "ws";
import { issueToken } from "./auth";
import { GOFORWARD, meshSkip, useMesh } from "./mesh-fixture.test-util";

/**
 * A Sesame-style client (packages/sim, written from docs/protocols/sesame.md) against the whole
 * mesh: the server's VAD ends the turn on a continuous stream, and speech over the reply stops it.
 */
const FIRST = "First, I will move forward ten meters, slowly and carefully, watching the floor.";
const ANSWER = `${FIRST} Then I will turn to the left and wait for you there. Finally I will come back.`;
const skip = meshSkip("Sesame-style mesh tests");

const fx = useMesh(skip, ANSWER);

/** The call set up, the first utterance, its transcript and reply audio, as `sequence` gives them. */
const FIRST_TURN = [
  "initialize",
  "call_connect_response",
  "ping_response",
  "utterance 1 starts",
  "utterance 1 ends",
  "chat:user",
  "audio",
];

/** The chat messages a (fake) Groq request carried. */
function messages(req: RecordedRequest | undefined): { role: string; content: unknown }[] {
  return (req?.body as { messages?: { role: string; content: unknown }[] } | undefined)?.messages ?? [];
}

/** The protocol log as a sequence of message types (repeats collapsed) and the sim's notes. */
function sequence(timeline: TimelineEvent[]): string[] {
  const out: string[] = [];
  for (const e of timeline) {
    let item: string | undefined;
    if (e.dir === "note" && /^utterance \d+ (starts|ends)$/.test(e.text)) item = e.text;
    else if (e.dir === "in") {
      const type = /"type":"(\w+)"/.exec(e.text)?.[1];
      if (type === "chat") item = /"role":"user"/.test(e.text) ? "chat:user" : undefined;
      else if (type && type !== "error") item = type;
    }
    if (item && out.at(-1) !== item) out.push(item);
  }
  return out;
}

test("sesame mesh - continuous stream: the server's VAD ends the turn, the reply's transcript reached the LLM", {
  skip,
}, async () => {
  const token = await issueToken(SECRET, "sesame-pi-1", 3600);
  const pcm = readFileSync(GOFORWARD);
  const { lastWordMs } = await speechSpan(pcm);
  const result = await runSesameDevice({ url: fx.mesh.edgeUrl, token, pcm, utterances: 1 });
  assert.equal(result.error, undefined, JSON.stringify(result.error));
  assert.ok(result.ok && result.disconnectAcked, "call_disconnect_response echoed the request_id");
  assert.equal(result.sampleRate, 24_000);
  const [turn] = result.turns;
  assert.ok(turn?.firstAudioMs !== undefined && turn.replyPcm.length > 24_000 * 2, "a second of reply audio or more");
  // Paced in real time: the client plays what arrives, so it never has much more than the lead queued.
  assert.ok(turn.maxLeadMs < 500, `reply ran ${turn.maxLeadMs.toFixed(0)} ms ahead of real time`);
  assert.match(
    String(messages(fx.groq.chatRequests().at(-1)).at(-1)?.content),
    /go forward/i,
    "the transcript reached the LLM",
  );
  assert.deepEqual(result.unknownTypes, [], "nothing the client would log as unknown");
  assert.deepEqual(sequence(result.timeline), [...FIRST_TURN, "call_disconnect_response"]);
  // The sim dates the end of speech at the end of the file; the words end earlier.
  const fromWordsMs = turn.firstAudioMs + pcm.length / 32 - lastWordMs;
  console.log(
    `# sesame: last word → first reply audio ${fromWordsMs.toFixed(0)} ms (includes the ${DEFAULT_LISTENER_OPTIONS.turn.endSilenceMs} ms silence window)`,
  );
});

test("sesame mesh - barge-in: speech over the reply stops its audio within 300 ms and becomes the next turn", {
  skip,
}, async () => {
  const pcm = readFileSync(GOFORWARD);
  const { onsetMs: onset } = await speechSpan(pcm);
  const token = await issueToken(SECRET, "sesame-pi-2", 3600);
  const before = fx.groq.chatRequests().length;
  const result = await runSesameDevice({
    url: fx.mesh.edgeUrl,
    token,
    pcm,
    utterances: 2,
    // Past the guard's first 500 ms of playback, well inside the first sentence.
    bargeInAfterMs: 900,
  });
  assert.equal(result.error, undefined, JSON.stringify(result.error));
  const [first, second] = result.turns;
  assert.ok(first?.bargedIn, "the second utterance started while the reply played");
  assert.ok(first.audioAfterBargeInMs !== undefined, "reply audio was still arriving when the user spoke");
  const stopMs = first.audioAfterBargeInMs - onset;
  console.log(`# sesame: barge-in — last reply audio ${stopMs.toFixed(0)} ms after the user's speech began`);
  assert.ok(stopMs <= 300, `reply audio went on ${stopMs.toFixed(0)} ms after the user's speech began`);
  assert.ok(second?.replyPcm.length, "the interrupting utterance was answered");
  // Order: reply audio, the user speaks, the audio stops before that speech's transcript, its reply.
  const seq = sequence(result.timeline);
  assert.deepEqual(seq.slice(0, FIRST_TURN.length), FIRST_TURN);
  const rest = seq.slice(FIRST_TURN.length);
  assert.deepEqual(rest.at(0), "utterance 2 starts");
  assert.deepEqual(rest.slice(-4), ["utterance 2 ends", "chat:user", "audio", "call_disconnect_response"]);
  assert.ok(
    !rest.slice(0, -4).includes("chat:user"),
    `no transcript before the second utterance ended: ${rest.join(", ")}`,
  );
  // The interrupted turn was stored as what had been said: the next LLM call's history has it.
  const chats = fx.groq.chatRequests().slice(before);
  assert.equal(chats.length, 2);
  const assistant = messages(chats[1])
    .filter((m) => m.role === "assistant")
    .map((m) => String(m.content));
  assert.ok(
    assistant.some((t) => t.startsWith("First,") && !t.includes("Finally")),
    `the interrupted reply is stored as its begun sentences: ${JSON.stringify(assistant)}`,
  );
});

test("sesame mesh - the upgrade: a bad token is 401, a token for no device 403, permessage-deflate accepted", {
  skip,
}, async () => {
  const url = (token: string) =>
    `${fx.mesh.edgeUrl.replace("http", "ws")}${SESAME_PATH}?id_token=${encodeURIComponent(token)}&client_name=RP-Web&character=Miles`;
  const status = (token: string) =>
    new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(url(token));
      ws.on("unexpected-response", (_req, res) => {
        resolve(res.statusCode ?? 0);
        ws.terminate();
      });
      ws.on("open", () => reject(new Error("upgraded")));
      ws.on("error", () => undefined);
    });
  assert.equal(await status("not.a.jwt"), 401);
  assert.equal(await status(await issueToken("another-secret-0123456789-abcdefgh", "sesame-pi-3", 3600)), 401);
  assert.equal(await status(TEST_DEVICE_TOKEN), 403, "a static token names no device");
  const ws = new WebSocket(url(await issueToken(SECRET, "sesame-pi-3", 3600)));
  const first = await new Promise<Record<string, unknown>>((resolve, reject) => {
    ws.once("message", (data) => resolve(JSON.parse(String(data))));
    ws.once("error", reject);
  });
  assert.match(ws.extensions, /permessage-deflate/);
  assert.equal(first.type, "initialize");
  // Unknown and malformed messages are answered, never a crash: the socket stays and serves ping.
  ws.send(JSON.stringify({ type: "mystery", session_id: "x" }));
  ws.send("{not json");
  ws.send(Buffer.from([1, 2, 3]));
  ws.send(JSON.stringify({ type: "ping", request_id: "r-1", content: "ping" }));
  const answers: Record<string, unknown>[] = [];
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ping_response: ${JSON.stringify(answers)}`)), 10_000);
    ws.on("message", (data) => {
      const m = JSON.parse(String(data)) as Record<string, unknown>;
      answers.push(m);
      if (m.type === "ping_response") {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  assert.deepEqual(
    answers.map((m) => [m.type, (m.content as { code?: string }).code]),
    [
      ["error", "unknown_type"],
      ["error", "bad_message"],
      ["error", "bad_message"],
      ["ping_response", undefined],
    ],
  );
  assert.equal(answers.at(-1)?.request_id, "r-1");
  ws.close();
});
