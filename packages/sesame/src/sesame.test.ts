import assert from "node:assert/strict";
import { test } from "node:test";
import {
  audioMessage,
  callConnectResponse,
  callDisconnectResponse,
  chatMessage,
  initializeMessage,
  MAX_AUDIO_BYTES_PER_MESSAGE,
  parseClientMessage,
  parseConnectQuery,
  pingResponse,
  SESAME_FRAME_SAMPLES,
  SesameProtocolError,
} from "./sesame";

const bad = (text: string, pattern: RegExp) =>
  assert.throws(
    () => parseClientMessage(text),
    (err: unknown) => err instanceof SesameProtocolError && pattern.test(err.message),
  );

const SESSION = "5f0c2a9e-0d7b-4b5e-9a51-0c1d2e3f4a5b";

// The messages as the Pi client builds them (docs/protocols/sesame.md): call_id and request_id
// only when set, content as given.
test("sesame - the client's own messages parse: location, call_connect, ping, audio, call_disconnect", () => {
  assert.deepEqual(
    parseClientMessage(
      JSON.stringify({
        type: "client_location_state",
        session_id: SESSION,
        content: { latitude: 0, longitude: 0, address: "", timezone: "America/New_York" },
      }),
    ),
    {
      type: "client_location_state",
      location: { latitude: 0, longitude: 0, address: "", timezone: "America/New_York" },
    },
  );
  const connect = {
    type: "call_connect",
    session_id: SESSION,
    request_id: "req-1",
    content: {
      sample_rate: 24000,
      audio_codec: "none",
      reconnect: false,
      is_private: false,
      settings: { preset: "Miles" },
      client_name: "RP-Web",
      client_metadata: {},
    },
  };
  assert.deepEqual(parseClientMessage(JSON.stringify(connect)), {
    type: "call_connect",
    requestId: "req-1",
    sampleRate: 24_000,
    reconnect: false,
    clientName: "RP-Web",
    preset: "Miles",
  });
  assert.deepEqual(
    parseClientMessage(
      JSON.stringify({ type: "ping", session_id: SESSION, call_id: "c1", request_id: "r2", content: "ping" }),
    ),
    {
      type: "ping",
      requestId: "r2",
    },
  );
  const pcm = Buffer.alloc(SESAME_FRAME_SAMPLES * 2, 7);
  const frame = JSON.stringify({
    type: "audio",
    session_id: SESSION,
    call_id: "c1",
    content: { audio_data: pcm.toString("base64") },
  });
  assert.ok(frame.length > 1700 && frame.length < 1900, `an upstream frame is ~1.8 KB, got ${frame.length}`);
  assert.deepEqual(parseClientMessage(frame), { type: "audio", pcm });
  assert.deepEqual(
    parseClientMessage(
      JSON.stringify({
        type: "call_disconnect",
        session_id: SESSION,
        call_id: "c1",
        request_id: "r3",
        content: { reason: "user_request" },
      }),
    ),
    { type: "call_disconnect", requestId: "r3", reason: "user_request" },
  );
  // A numeric call id, as the original server hands out, is fine too.
  assert.equal(parseClientMessage(JSON.stringify({ type: "ping", call_id: 42, request_id: "r" })).type, "ping");
});

test("sesame - unknown but well-formed types are reported as unknown, not errors", () => {
  assert.deepEqual(parseClientMessage('{"type":"webrtc_sdp_offer","session_id":"s","content":{}}'), {
    type: "unknown",
    name: "webrtc_sdp_offer",
  });
});

test("sesame - malformed client messages are refused with the reason", () => {
  bad("hello", /not JSON/);
  bad("[]", /not a JSON object/);
  bad("{}", /without a valid type/);
  bad('{"type":"Robert\'); DROP"}', /without a valid type/);
  bad('{"type":"ping"}', /ping needs a request_id/);
  bad('{"type":"ping","request_id":"has space"}', /request_id/);
  bad('{"type":"ping","request_id":"r","session_id":1}', /session_id must be a string/);
  bad('{"type":"ping","request_id":"r","call_id":{}}', /call_id must be a string or a number/);
  bad('{"type":"call_connect","request_id":"r"}', /content must be an object/);
  bad(
    '{"type":"call_connect","request_id":"r","content":{"sample_rate":44100}}',
    /sample_rate must be one of 16000, 24000/,
  );
  bad('{"type":"call_connect","request_id":"r","content":{"sample_rate":"24000"}}', /sample_rate must be a number/);
  bad('{"type":"call_connect","request_id":"r","content":{"audio_codec":"opus"}}', /audio_codec must be "none"/);
  bad('{"type":"call_connect","request_id":"r","content":{"settings":[]}}', /settings must be an object/);
  bad('{"type":"client_location_state","content":{"latitude":"north"}}', /latitude must be a number/);
  bad(`{"type":"client_location_state","content":{"timezone":"${"x".repeat(65)}"}}`, /timezone is longer than 64/);
  bad('{"type":"audio","content":{}}', /audio_data must be a base64 string/);
  bad('{"type":"audio","content":{"audio_data":"!!!!"}}', /not base64/);
  bad('{"type":"audio","content":{"audio_data":"AAA"}}', /not base64/);
  bad('{"type":"audio","content":{"audio_data":"AA=="}}', /whole number of 16-bit samples/);
  bad('{"type":"audio","content":{"audio_data":""}}', /whole number of 16-bit samples/);
  const tooLong = Buffer.alloc(MAX_AUDIO_BYTES_PER_MESSAGE + 2).toString("base64");
  bad(`{"type":"audio","content":{"audio_data":"${tooLong}"}}`, /is over 48000/);
  bad(`{"type":"audio","pad":"${"x".repeat(70_000)}"}`, /longer than/);
  bad('{"type":"call_disconnect","request_id":"r","content":{"reason":5}}', /reason must be a string/);
});

test("sesame - server messages carry what the client reads", () => {
  assert.deepEqual(initializeMessage(SESSION), {
    type: "initialize",
    session_id: SESSION,
    content: { session_id: SESSION },
  });
  assert.deepEqual(callConnectResponse(SESSION, "call-1", "req-1"), {
    type: "call_connect_response",
    session_id: SESSION,
    call_id: "call-1",
    request_id: "req-1",
    content: { sample_rate: 24_000 },
  });
  assert.deepEqual(pingResponse(SESSION, "call-1", "r2"), {
    type: "ping_response",
    session_id: SESSION,
    call_id: "call-1",
    request_id: "r2",
    content: "pong",
  });
  const pcm = Buffer.from([1, 0, 255, 255]);
  const audio = audioMessage(SESSION, "call-1", pcm) as { content: { audio_data: string } };
  assert.deepEqual(Buffer.from(audio.content.audio_data, "base64"), pcm);
  assert.throws(() => audioMessage(SESSION, "c", Buffer.alloc(3)), RangeError);
  // What the server sends round-trips through the client parser's audio rules.
  assert.deepEqual(parseClientMessage(JSON.stringify(audio)), { type: "audio", pcm });
  assert.deepEqual(chatMessage(SESSION, "call-1", "assistant", "Hello there."), {
    type: "chat",
    session_id: SESSION,
    call_id: "call-1",
    content: { messages: [{ role: "assistant", text: "Hello there." }] },
  });
  assert.deepEqual(callDisconnectResponse(SESSION, "call-1", "r3"), {
    type: "call_disconnect_response",
    session_id: SESSION,
    call_id: "call-1",
    request_id: "r3",
    content: {},
  });
});

test("sesame - the connect query: token, client name, character and the timezone in usercontext", () => {
  const q = new URLSearchParams({
    id_token: "a.b.c",
    client_name: "RP-Web",
    usercontext: '{"timezone":"America/New_York"}',
    character: "Miles",
  });
  assert.deepEqual(parseConnectQuery(q), {
    idToken: "a.b.c",
    clientName: "RP-Web",
    character: "Miles",
    timezone: "America/New_York",
  });
  assert.deepEqual(parseConnectQuery(new URLSearchParams({ id_token: "t" })), { idToken: "t" });
  const refuse = (params: Record<string, string>, pattern: RegExp) =>
    assert.throws(
      () => parseConnectQuery(new URLSearchParams(params)),
      (e: unknown) => e instanceof SesameProtocolError && pattern.test(e.message),
    );
  refuse({}, /id_token is missing/);
  refuse({ id_token: "x".repeat(4097) }, /id_token is longer/);
  refuse({ id_token: "t", usercontext: "{" }, /usercontext is not JSON/);
  refuse({ id_token: "t", usercontext: "[]" }, /not a JSON object/);
  refuse({ id_token: "t", usercontext: '{"timezone":1}' }, /timezone must be a string/);
  refuse({ id_token: "t", character: "x".repeat(65) }, /character must be at most 64/);
  refuse({ id_token: "t", client_name: "\u0001" }, /client_name must be/);
});
