import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import { events } from "@hotpin/contracts";
import { connectNats, createLogger, EVENT_SUBJECTS } from "@hotpin/runtime";
import { runXiaozhiDevice, type XiaozhiTurn } from "@hotpin/sim";
import { speechSpan } from "@hotpin/vad/dist/testing";
import { GOFORWARD, meshSkip, useMesh } from "./mesh-fixture.test-util";

/**
 * xiaozhi-esp32 through the whole mesh, with the simulator behaving as the firmware does
 * (docs/protocols/xiaozhi.md): OTA → activation code → `hotpin activate` → token → hello → turns
 * with Opus both ways; the transcript must reach the (fake Groq) LLM.
 */
const ANSWER = "Moving forward ten meters now.";
const skip = meshSkip("xiaozhi mesh tests");
const PRE_REGISTERED = "a1:b2:c3:d4:e5:02";
const fx = useMesh(skip, ANSWER, {
  serviceEnv: {
    edge: {
      HOTPIN_EDGE_XIAOZHI_DEVICES: PRE_REGISTERED,
      HOTPIN_EDGE_STT_TIMEOUT_MS: "20000",
      // PocketSphinx scores goforward.raw 0.44 after the firmware's Opus (complexity 0, DTX), 0.5+ raw.
      HOTPIN_EDGE_MIN_CONFIDENCE: "0.3",
    },
  },
});
const run = promisify(execFile);

/** The operator's command, as a person would run it. */
async function hotpin(...args: string[]): Promise<string> {
  const cli = join(__dirname, "cli.js");
  const { stdout } = await run(process.execPath, [cli, ...args], {
    env: { ...process.env, HOTPIN_NATS_URL: fx.mesh.nats.url },
    timeout: 20_000,
  });
  return stdout;
}

function userTexts(): string[] {
  return fx.groq.chatRequests().map((r) => {
    const messages = (r.body as { messages: { role: string; content: unknown }[] }).messages;
    const last = messages.filter((m) => m.role === "user").at(-1)?.content;
    return typeof last === "string" ? last : JSON.stringify(last);
  });
}

/** The board's NVS UUID: the same board on every run, as a real one keeps it. */
const clientIdOf = (deviceId: string) => `c0ffee00-0000-4000-8000-${deviceId.replaceAll(":", "")}`;

function device(
  deviceId: string,
  turns: XiaozhiTurn[],
  onCode?: (code: string) => Promise<void>,
  more: { pacing?: "realtime" | "fast"; wakeWord?: string } = {},
) {
  return runXiaozhiDevice({
    otaUrl: `${fx.mesh.edgeUrl}/xiaozhi/ota/`,
    deviceId,
    clientId: clientIdOf(deviceId),
    pcm: readFileSync(GOFORWARD),
    turns,
    activationPollMs: 200,
    activationTimeoutMs: 30_000,
    replyTimeoutMs: 60_000,
    pacing: more.pacing ?? "fast",
    ...(more.wakeWord ? { wakeWord: more.wakeWord } : {}),
    ...(onCode ? { onActivationCode: onCode } : {}),
  });
}

test("xiaozhi mesh - OTA gives an unknown device a code; hotpin activate binds it; token, hello and a manual turn with Opus both ways", {
  skip,
}, async () => {
  const codes: string[] = [];
  const r = await device("a1:b2:c3:d4:e5:01", [{ mode: "manual" }], async (code) => {
    codes.push(code);
    assert.match(await hotpin("activate", code), /bound a1:b2:c3:d4:e5:01/);
  });
  assert.equal(
    r.error,
    undefined,
    `${JSON.stringify(r.error)} ${r.warnings.join("; ")} ${JSON.stringify(r.timeline.slice(-12))}`,
  );
  assert.ok(r.ok);
  assert.equal(codes.length, 1);
  assert.match(r.activationCode ?? "", /^[0-9]{6}$/);
  assert.deepEqual(r.downlink, { sampleRate: 24_000, frameDurationMs: 60 });
  assert.ok(r.sessionId);
  const turn = r.turns[0];
  assert.ok(turn);
  assert.match(turn.transcript ?? "", /go forward/);
  // The reply decoded as 24 kHz Opus: about a second or more of speech, no packet over 60 ms.
  assert.ok(turn.packets > 15, `${turn.packets} packets`);
  assert.ok(turn.replyPcm.length > 24_000 * 2, `${turn.replyPcm.length} bytes of PCM`);
  assert.equal(turn.maxPacketSamples, 1440);
  assert.equal(turn.droppedOverflow, 0, "paced within the device's 40-packet queue");
  assert.equal(turn.droppedOutsideSpeaking, 0, "no audio outside tts start … stop");
  assert.deepEqual(turn.sentences, [ANSWER], "tts sentence_start carries the sentence");
  assert.ok(
    userTexts().some((t) => /go forward/.test(t)),
    `the LLM heard the recording: ${userTexts().join(" | ")}`,
  );
  await assert.rejects(hotpin("activate", codes[0] ?? ""), /no such activation code/, "a code binds once");
  // The binding outlives the connection: the next OTA check gives a token straight away.
  const again = await device("a1:b2:c3:d4:e5:01", []);
  assert.equal(again.activationCode, undefined);
  assert.ok(again.sessionId);
  // The MAC alone is no credential: another board claiming it is shown a code of its own.
  const res = await fetch(`${fx.mesh.edgeUrl}/xiaozhi/ota/`, {
    method: "POST",
    headers: { "device-id": "a1:b2:c3:d4:e5:01", "client-id": "someone-else", "content-type": "application/json" },
    body: JSON.stringify({ application: { version: "2.0.4" } }),
  });
  const body = (await res.json()) as { websocket?: unknown; activation?: { code: string } };
  assert.equal(body.websocket, undefined);
  assert.match(body.activation?.code ?? "", /^[0-9]{6}$/);
});

test("xiaozhi mesh - a pre-registered device connects without a code; an unknown code is refused", {
  skip,
}, async () => {
  const r = await device(PRE_REGISTERED, []);
  assert.equal(r.error, undefined, JSON.stringify(r.error));
  assert.equal(r.activationCode, undefined);
  assert.ok(r.sessionId);
  await assert.rejects(hotpin("activate", "000000"), /no such activation code/);
});

test("xiaozhi mesh - the socket refuses a missing token and a token of another device before the upgrade", {
  skip,
}, async () => {
  const url = `${fx.mesh.edgeUrl.replace("http", "ws")}/xiaozhi/v1/`;
  const status = async (headers: Record<string, string>) => {
    const { WebSocket } = await import("ws");
    return new Promise<number>((resolve) => {
      const ws = new WebSocket(url, { headers });
      ws.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
      ws.on("open", () => {
        ws.close();
        resolve(101);
      });
      ws.on("error", () => undefined);
    });
  };
  const base = { "device-id": "a1:b2:c3:d4:e5:03", "client-id": "c0ffee00-1111-2222-3333-444455556666" };
  assert.equal(await status({ ...base, "protocol-version": "1" }), 401);
  assert.equal(await status({ ...base, "protocol-version": "7" }), 400);
  const res = await fetch(`${fx.mesh.edgeUrl}/xiaozhi/ota/`, {
    method: "POST",
    headers: { "device-id": PRE_REGISTERED, "client-id": base["client-id"], "content-type": "application/json" },
    body: JSON.stringify({ application: { version: "2.0.4" } }),
  });
  assert.equal(res.status, 200);
  const body = (await res.json()) as { websocket: { token: string }; mqtt?: unknown };
  assert.equal(body.mqtt, undefined, "never mqtt: the device would switch to MQTT");
  assert.equal(
    await status({ ...base, "protocol-version": "1", authorization: `Bearer ${body.websocket.token}` }),
    403,
  );
});

test("xiaozhi mesh - auto mode after a wake word: a wake_word event, the server's VAD ends each turn in the device's DTX silence, two turns on one socket", {
  skip,
}, async () => {
  const chats = fx.groq.chatRequests().length;
  const nc = await connectNats({ servers: fx.mesh.nats.url, name: "xiaozhi-test", log: createLogger("t", "silent") });
  const wakeWords: events.WakeWord[] = [];
  nc.subscribe(EVENT_SUBJECTS, {
    callback: (_err, msg) => {
      const e = events.Event.decode(msg.data);
      if (e.payload?.$case === "wakeWord" && e.deviceId === PRE_REGISTERED) wakeWords.push(e.payload.value);
    },
  });
  // Real time, as the firmware streams: the figures below are then the device's experience.
  const r = await device(PRE_REGISTERED, [{ mode: "auto" }, { mode: "auto" }], undefined, {
    pacing: "realtime",
    wakeWord: "hey hotpin",
  });
  await nc.flush();
  await nc.close();
  assert.equal(r.error, undefined, `${JSON.stringify(r.error)} ${r.warnings.join("; ")}`);
  assert.deepEqual(wakeWords, [{ word: "hey hotpin", confidence: 1, source: "device" }], "listen detect → wake_word");
  for (const turn of r.turns) {
    assert.match(turn.transcript ?? "", /go forward/);
    assert.ok(turn.packets > 15, `${turn.packets} packets`);
    assert.equal(turn.maxPacketSamples, 1440);
    assert.equal(turn.droppedOverflow, 0);
    // Includes the silence window the VAD waits before it ends the turn.
    console.log(`# auto turn: end of speech → stt ${turn.sttMs} ms, → first audio ${turn.firstAudioMs} ms`);
  }
  assert.equal(fx.groq.chatRequests().length - chats, 2);
});

test("xiaozhi mesh - abort while the reply plays: tts stop at once, then the device can talk again", {
  skip,
}, async () => {
  const r = await device(PRE_REGISTERED, [{ mode: "manual", abortAfterMs: 200 }, { mode: "manual" }]);
  assert.equal(r.error, undefined, `${JSON.stringify(r.error)} ${r.warnings.join("; ")}`);
  const [aborted, next] = r.turns;
  assert.ok(
    aborted?.abortToStopMs !== undefined && aborted.abortToStopMs < 300,
    `abort → tts stop ${aborted?.abortToStopMs} ms`,
  );
  assert.match(next?.transcript ?? "", /go forward/);
});

test("xiaozhi mesh - three devices at once: each hears its own reply, none is disturbed by another", {
  skip,
}, async () => {
  const ids = ["a1:b2:c3:d4:e5:11", "a1:b2:c3:d4:e5:12", "a1:b2:c3:d4:e5:13"];
  const results = await Promise.all(
    ids.map((id) =>
      device(id, [{ mode: "manual" }], async (code) => {
        await hotpin("activate", code);
      }),
    ),
  );
  for (const r of results) {
    assert.equal(r.error, undefined, `${r.deviceId}: ${JSON.stringify(r.error)} ${r.warnings.join("; ")}`);
    const turn = r.turns[0];
    assert.match(turn?.transcript ?? "", /go forward/);
    assert.deepEqual(turn?.sentences, [ANSWER]);
    assert.equal(turn?.droppedOverflow, 0);
    assert.equal(turn?.droppedOutsideSpeaking, 0);
  }
  assert.equal(new Set(results.map((r) => r.sessionId)).size, 3, "a session each");
});

test("xiaozhi mesh - realtime mode: speech over the reply (barge-in) stops it with tts stop within 300 ms of the first word", {
  skip,
}, async () => {
  const { onsetMs } = await speechSpan(readFileSync(GOFORWARD));
  const r = await device(PRE_REGISTERED, [{ mode: "realtime", bargeInAfterMs: 700 }], undefined, {
    pacing: "realtime",
  });
  assert.equal(r.error, undefined, `${JSON.stringify(r.error)} ${r.warnings.join("; ")}`);
  const turn = r.turns[0];
  assert.match(turn?.transcript ?? "", /go forward/);
  const stopMs = (turn?.bargeInToStopMs ?? Number.NaN) - onsetMs;
  console.log(`# realtime barge-in: first word → tts stop ${stopMs.toFixed(0)} ms`);
  assert.ok(stopMs < 300, `first word → tts stop ${stopMs} ms`);
});
