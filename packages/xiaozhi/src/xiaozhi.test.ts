import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeAudioFrame, encodeAudioFrame, MAX_OPUS_PACKET_BYTES } from "./binary";
import { parseConnectRequest } from "./connect";
import { XiaozhiProtocolError } from "./errors";
import {
  alertMessage,
  llmEmotion,
  MAX_TEXT_MESSAGE_BYTES,
  parseDeviceMessage,
  serverHello,
  sttMessage,
  ttsSentenceStart,
  ttsStart,
  ttsStop,
} from "./messages";
import { newActivationChallenge, newActivationCode, otaResponse, parseActivateRequest, parseOtaRequest } from "./ota";

const bad = (fn: () => unknown, pattern: RegExp) =>
  assert.throws(fn, (err: unknown) => err instanceof XiaozhiProtocolError && pattern.test(err.message));

// What the firmware sends, key order and all (docs/protocols/xiaozhi.md §3.1, §6).
const FIRMWARE_HELLO =
  '{"type":"hello","version":1,"features":{"aec":true,"mcp":true,"glyph_push":true},' +
  '"text_font":{"bundle":"noto-v1","charset":"common","size":20,"bpp":4},"transport":"websocket",' +
  '"audio_params":{"format":"opus","sample_rate":16000,"channels":1,"frame_duration":60}}';

test("xiaozhi - the firmware's hello parses; extra fields are ignored", () => {
  assert.deepEqual(parseDeviceMessage(FIRMWARE_HELLO), {
    type: "hello",
    version: 1,
    audioParams: { format: "opus", sampleRate: 16_000, channels: 1, frameDurationMs: 60 },
    features: { aec: true, mcp: true },
  });
  const minimal = parseDeviceMessage('{"type":"hello"}');
  assert.deepEqual(minimal, {
    type: "hello",
    version: 1,
    audioParams: { format: "opus", sampleRate: 16_000, channels: 1, frameDurationMs: 60 },
    features: { aec: false, mcp: false },
  });
});

test("xiaozhi - a hello with impossible audio, version or transport is refused with the field named", () => {
  bad(() => parseDeviceMessage('{"type":"hello","audio_params":{"format":"pcm"}}'), /format must be opus/);
  bad(() => parseDeviceMessage('{"type":"hello","audio_params":{"sample_rate":44100}}'), /sample_rate must be one of/);
  bad(() => parseDeviceMessage('{"type":"hello","audio_params":{"channels":2}}'), /channels must be 1/);
  bad(() => parseDeviceMessage('{"type":"hello","audio_params":{"frame_duration":30}}'), /frame_duration/);
  bad(() => parseDeviceMessage('{"type":"hello","audio_params":[]}'), /audio_params must be an object/);
  bad(() => parseDeviceMessage('{"type":"hello","version":4}'), /version must be 1, 2 or 3/);
  bad(() => parseDeviceMessage('{"type":"hello","transport":"udp"}'), /transport must be websocket/);
  bad(() => parseDeviceMessage('{"type":"hello","features":{"aec":"yes"}}'), /features.aec/);
});

test("xiaozhi - listen start in each mode, stop and detect", () => {
  for (const mode of ["auto", "manual", "realtime"] as const) {
    assert.deepEqual(parseDeviceMessage(`{"session_id":"s1","type":"listen","state":"start","mode":"${mode}"}`), {
      type: "listen",
      state: "start",
      mode,
    });
  }
  assert.deepEqual(parseDeviceMessage('{"session_id":"","type":"listen","state":"start"}'), {
    type: "listen",
    state: "start",
    mode: "auto",
  });
  assert.deepEqual(parseDeviceMessage('{"session_id":"s1","type":"listen","state":"stop"}'), {
    type: "listen",
    state: "stop",
  });
  assert.deepEqual(parseDeviceMessage('{"session_id":"s1","type":"listen","state":"detect","text":" 你好小智 "}'), {
    type: "listen",
    state: "detect",
    text: "你好小智",
  });
});

test("xiaozhi - malformed listen messages are refused", () => {
  bad(
    () => parseDeviceMessage('{"type":"listen","state":"start","mode":"push"}'),
    /listen.mode must be one of auto, manual, realtime/,
  );
  bad(() => parseDeviceMessage('{"type":"listen","state":"pause"}'), /state must be start, stop or detect/);
  bad(() => parseDeviceMessage('{"type":"listen"}'), /state must be/);
  bad(() => parseDeviceMessage('{"type":"listen","state":"detect"}'), /needs a text/);
  bad(() => parseDeviceMessage('{"type":"listen","state":"detect","text":"   "}'), /needs a text/);
  bad(() => parseDeviceMessage('{"type":"listen","state":"detect","text":42}'), /text must be a string/);
  bad(() => parseDeviceMessage(`{"type":"listen","state":"detect","text":"${"a".repeat(129)}"}`), /longer than 128/);
  // The firmware does not escape the wake word: a quote in it makes the message invalid JSON.
  bad(() => parseDeviceMessage('{"type":"listen","state":"detect","text":"say "hi""}'), /not JSON/);
});

test("xiaozhi - abort with and without a reason, mcp with its payload, iot accepted", () => {
  assert.deepEqual(parseDeviceMessage('{"session_id":"s","type":"abort"}'), { type: "abort" });
  assert.deepEqual(parseDeviceMessage('{"session_id":"s","type":"abort","reason":"wake_word_detected"}'), {
    type: "abort",
    reason: "wake_word_detected",
  });
  const rpc = { jsonrpc: "2.0", id: 1, result: { protocolVersion: "2024-11-05" } };
  assert.deepEqual(parseDeviceMessage(JSON.stringify({ session_id: "s", type: "mcp", payload: rpc })), {
    type: "mcp",
    payload: rpc,
  });
  assert.deepEqual(parseDeviceMessage('{"type":"iot","descriptors":[{"name":"Speaker"}]}'), { type: "iot" });
  bad(() => parseDeviceMessage('{"type":"mcp"}'), /needs a payload/);
  bad(() => parseDeviceMessage('{"type":"mcp","payload":"x"}'), /payload must be an object/);
  bad(() => parseDeviceMessage('{"type":"abort","reason":7}'), /reason must be a string/);
});

test("xiaozhi - non-JSON, non-objects, missing or unknown types and oversize messages are refused", () => {
  bad(() => parseDeviceMessage("hello"), /not JSON/);
  bad(() => parseDeviceMessage("42"), /not a JSON object/);
  bad(() => parseDeviceMessage("[1]"), /not a JSON object/);
  bad(() => parseDeviceMessage("null"), /not a JSON object/);
  bad(() => parseDeviceMessage('{"state":"start"}'), /without a type/);
  bad(() => parseDeviceMessage('{"type":"goodbye"}'), /unknown message type "goodbye"/);
  bad(() => parseDeviceMessage(`{"type":"${"x".repeat(100)}"}`), /^unknown message type$/);
  bad(() => parseDeviceMessage('{"type":"listen","state":"stop","session_id":5}'), /session_id must be a string/);
  bad(
    () => parseDeviceMessage(`{"type":"iot","x":"${"a".repeat(MAX_TEXT_MESSAGE_BYTES)}"}`),
    /longer than 65536 bytes/,
  );
});

test("xiaozhi - server messages carry what the firmware reads", () => {
  assert.deepEqual(serverHello({ sessionId: "abc", sampleRate: 24_000, frameDurationMs: 60 }), {
    type: "hello",
    version: 1,
    transport: "websocket",
    session_id: "abc",
    audio_params: { format: "opus", sample_rate: 24_000, channels: 1, frame_duration: 60 },
  });
  assert.throws(() => serverHello({ sessionId: "a", sampleRate: 22_050, frameDurationMs: 60 }), RangeError);
  assert.throws(() => serverHello({ sessionId: "a", sampleRate: 24_000, frameDurationMs: 30 }), RangeError);
  assert.deepEqual(sttMessage("s", "what time\nis it"), { type: "stt", text: "what time is it", session_id: "s" });
  assert.deepEqual(llmEmotion("s", "happy", "🙂"), { type: "llm", emotion: "happy", text: "🙂", session_id: "s" });
  assert.deepEqual(llmEmotion("s", "thinking"), { type: "llm", emotion: "thinking", session_id: "s" });
  assert.deepEqual(ttsStart("s"), { type: "tts", state: "start", session_id: "s" });
  assert.deepEqual(ttsSentenceStart("s", "It is noon.\n"), {
    type: "tts",
    state: "sentence_start",
    text: "It is noon.",
    session_id: "s",
  });
  assert.deepEqual(ttsStop("s"), { type: "tts", state: "stop", session_id: "s" });
  assert.deepEqual(alertMessage("s", "Error", "STT is down"), {
    type: "alert",
    status: "Error",
    message: "STT is down",
    emotion: "sad",
    session_id: "s",
  });
});

test("xiaozhi - binary frames v1, v2 and v3 round-trip, DTX packets of 1-3 bytes included", () => {
  for (const size of [1, 2, 3, 120, MAX_OPUS_PACKET_BYTES]) {
    const opus = Buffer.alloc(size, 0xab);
    assert.deepEqual(decodeAudioFrame(1, encodeAudioFrame(1, opus)), { opus, timestampMs: 0 });
    assert.deepEqual(decodeAudioFrame(2, encodeAudioFrame(2, opus, 123_456)), { opus, timestampMs: 123_456 });
    assert.deepEqual(decodeAudioFrame(3, encodeAudioFrame(3, opus)), { opus, timestampMs: 0 });
  }
  // Byte for byte (§5): v2 = version 2, type 0, reserved, timestamp, size; v3 = type 0, 0, size.
  assert.deepEqual(
    encodeAudioFrame(2, Buffer.from([9]), 7),
    Buffer.from("00020000000000000000000700000001" + "09", "hex"),
  );
  assert.deepEqual(encodeAudioFrame(3, Buffer.from([9, 8])), Buffer.from("000000020908", "hex"));
});

test("xiaozhi - malformed binary frames are refused with the reason", () => {
  bad(() => decodeAudioFrame(1, Buffer.alloc(0)), /empty audio frame/);
  bad(() => decodeAudioFrame(1, Buffer.alloc(MAX_OPUS_PACKET_BYTES + 1)), /longer than an Opus packet/);
  bad(() => decodeAudioFrame(2, Buffer.alloc(10)), /shorter than its header/);
  const v2 = encodeAudioFrame(2, Buffer.from([1, 2, 3]));
  bad(() => decodeAudioFrame(2, v2.subarray(0, v2.length - 1)), /header says 3 payload bytes, the frame holds 2/);
  const v2type = Buffer.from(v2);
  v2type.writeUInt16BE(1, 2);
  bad(() => decodeAudioFrame(2, v2type), /type 1/);
  bad(() => decodeAudioFrame(2, encodeAudioFrame(2, Buffer.from([1])).subarray(0, 16)), /header says 1/);
  bad(() => decodeAudioFrame(3, Buffer.from([0, 0])), /shorter than its header/);
  bad(() => decodeAudioFrame(3, Buffer.from([0, 0, 0, 5, 1])), /header says 5/);
  bad(() => decodeAudioFrame(3, Buffer.from([1, 0, 0, 1, 1])), /type 1/);
  bad(() => decodeAudioFrame(3, Buffer.from([0, 0, 0, 0])), /empty audio frame/);
  assert.throws(() => encodeAudioFrame(1, Buffer.alloc(0)), XiaozhiProtocolError);
});

const DEVICE = { "device-id": "a1:b2:c3:d4:e5:f6", "client-id": "6d8e7a4c-9c1b-4f0e-8a53-1f2b3c4d5e6f" };

test("xiaozhi - the upgrade's headers give identity, protocol version and token", () => {
  assert.deepEqual(parseConnectRequest({ ...DEVICE, authorization: "Bearer tok.en-1", "protocol-version": "2" }), {
    deviceId: "a1:b2:c3:d4:e5:f6",
    clientId: DEVICE["client-id"],
    protocolVersion: 2,
    token: "tok.en-1",
  });
  // No token stored: no Authorization and no Protocol-Version from an old firmware.
  assert.deepEqual(parseConnectRequest(DEVICE), {
    ...{ deviceId: DEVICE["device-id"], clientId: DEVICE["client-id"] },
    protocolVersion: 1,
    token: undefined,
  });
  // A token with a space is sent verbatim.
  assert.equal(parseConnectRequest({ ...DEVICE, authorization: "Token abc" }).token, "Token abc");
  assert.equal(parseConnectRequest({ ...DEVICE, authorization: "bearer abc" }).token, "abc");
});

test("xiaozhi - upgrades without identity, with a bad id or version are refused", () => {
  bad(() => parseConnectRequest({ "client-id": "c" }), /Device-Id header is missing/);
  bad(() => parseConnectRequest({ "device-id": "a1:b2" }), /Client-Id header is missing/);
  bad(() => parseConnectRequest({ ...DEVICE, "device-id": "has space" }), /Device-Id must be 1-128 printable/);
  bad(() => parseConnectRequest({ ...DEVICE, "device-id": "x".repeat(129) }), /Device-Id must be/);
  bad(() => parseConnectRequest({ ...DEVICE, "client-id": "é" }), /Client-Id must be/);
  bad(() => parseConnectRequest({ ...DEVICE, "protocol-version": "4" }), /Protocol-Version must be 1, 2 or 3/);
  bad(() => parseConnectRequest({ ...DEVICE, "protocol-version": "1.5" }), /Protocol-Version/);
  bad(() => parseConnectRequest({ ...DEVICE, authorization: `Bearer ${"a".repeat(5000)}` }), /Authorization is longer/);
});

// The body the firmware posts, trimmed to the fields we read plus a few it always sends (§1.1).
const OTA_BODY = JSON.stringify({
  version: 2,
  language: "en-US",
  flash_size: 16777216,
  minimum_free_heap_size: "7265024",
  mac_address: DEVICE["device-id"],
  uuid: DEVICE["client-id"],
  chip_model_name: "esp32s3",
  application: { name: "xiaozhi", version: "2.0.4", compile_time: "Aug  8 2026T10:00:00Z", idf_version: "v5.4" },
  partition_table: [{ label: "nvs", type: 1, subtype: 2, address: 36864, size: 16384 }],
  board: {
    type: "bread-compact-wifi",
    name: "bread-compact-wifi",
    ssid: "home",
    rssi: -50,
    channel: 6,
    ip: "192.168.1.9",
  },
});

test("xiaozhi - the OTA request gives identity, firmware version and board", () => {
  assert.deepEqual(parseOtaRequest({ ...DEVICE, "activation-version": "2", "serial-number": "SN1" }, OTA_BODY), {
    deviceId: DEVICE["device-id"],
    clientId: DEVICE["client-id"],
    firmwareVersion: "2.0.4",
    boardType: "bread-compact-wifi",
    language: "en-US",
    activationVersion: 2,
    serialNumber: "SN1",
  });
  assert.equal(parseOtaRequest(DEVICE, '{"application":{"version":"1.9.2-rc1"}}').activationVersion, 1);
});

test("xiaozhi - OTA requests without identity or version, or with a broken body, are refused", () => {
  bad(() => parseOtaRequest({ "client-id": "c" }, OTA_BODY), /Device-Id header is missing/);
  bad(() => parseOtaRequest(DEVICE, "{"), /OTA body is not JSON/);
  bad(() => parseOtaRequest(DEVICE, "{}"), /no application.version/);
  bad(() => parseOtaRequest(DEVICE, '{"application":{"version":"../../etc"}}'), /not a version number/);
  bad(() => parseOtaRequest(DEVICE, '{"application":{"version":2}}'), /application.version must be a string/);
  bad(
    () => parseOtaRequest(DEVICE, '{"application":{"version":"1.0"},"board":{"type":"\\u0000"}}'),
    /board.type must be printable/,
  );
  bad(
    () => parseOtaRequest(DEVICE, JSON.stringify({ application: { version: "1" }, pad: "x".repeat(17_000) })),
    /longer than 16384/,
  );
});

test("xiaozhi - the OTA reply: websocket for a bound device, activation for an unbound one, never mqtt", () => {
  const bound = otaResponse({
    firmwareVersion: "2.0.4",
    nowMs: 1_780_000_000_000,
    timezoneOffsetMinutes: 60,
    websocket: { url: "wss://mesh.example/xiaozhi/v1/", token: "jwt" },
  });
  assert.deepEqual(bound, {
    server_time: { timestamp: 1_780_000_000_000, timezone_offset: 60 },
    firmware: { version: "2.0.4", url: "" },
    websocket: { url: "wss://mesh.example/xiaozhi/v1/", token: "jwt" },
  });
  const unbound = otaResponse({
    firmwareVersion: "2.0.4",
    nowMs: 1,
    timezoneOffsetMinutes: 0,
    activation: { code: "123456", message: "mesh.example\n123456", challenge: "c0ffee" },
  });
  assert.deepEqual(unbound.activation, { code: "123456", message: "mesh.example\n123456", challenge: "c0ffee" });
  assert.equal("websocket" in unbound, false);
  for (const reply of [bound, unbound]) assert.equal("mqtt" in reply, false);
  assert.equal(
    (
      otaResponse({
        firmwareVersion: "1",
        nowMs: 1,
        timezoneOffsetMinutes: 0,
        websocket: { url: "ws://h/", token: "", version: 3 },
      }).websocket as { version: number }
    ).version,
    3,
  );
  assert.throws(() => otaResponse({ firmwareVersion: "1", nowMs: 1, timezoneOffsetMinutes: 0 }), RangeError);
  assert.throws(
    () =>
      otaResponse({
        firmwareVersion: "1",
        nowMs: 1,
        timezoneOffsetMinutes: 0,
        websocket: { url: "http://h/", token: "" },
      }),
    /ws:\/\//,
  );
});

test("xiaozhi - activation polls with an empty body or a signed challenge; codes and challenges are fresh", () => {
  assert.deepEqual(parseActivateRequest(DEVICE, "{}"), {
    deviceId: DEVICE["device-id"],
    clientId: DEVICE["client-id"],
  });
  assert.deepEqual(parseActivateRequest(DEVICE, ""), { deviceId: DEVICE["device-id"], clientId: DEVICE["client-id"] });
  const signed = { algorithm: "hmac-sha256", serial_number: "SN1", challenge: "c0ffee", hmac: "ab12" };
  assert.deepEqual(parseActivateRequest(DEVICE, JSON.stringify(signed)), {
    deviceId: DEVICE["device-id"],
    clientId: DEVICE["client-id"],
    challenge: "c0ffee",
    serialNumber: "SN1",
    hmac: "ab12",
  });
  bad(() => parseActivateRequest(DEVICE, '{"hmac":"xyz"}'), /hmac must be hex/);
  bad(() => parseActivateRequest({}, "{}"), /Device-Id/);
  const codes = new Set(Array.from({ length: 50 }, newActivationCode));
  assert.ok(codes.size > 40);
  for (const c of codes) assert.match(c, /^\d{6}$/);
  assert.match(newActivationChallenge(), /^[0-9a-f]{32}$/);
  assert.notEqual(newActivationChallenge(), newActivationChallenge());
});
