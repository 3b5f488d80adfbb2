import assert from "node:assert/strict";
import { test } from "node:test";
import { webSocketDialects as registry } from "./registry";

test("detection - ?session= is the spec dialect", () => {
  assert.equal(registry.fromUrl(new URL("ws://h/ws?session=pin&token=t"))?.name, "spec");
  assert.equal(registry.fromUrl(new URL("ws://h/ws")), undefined);
});

test("detection - first frame decides: type is spec, session_id is firmware", () => {
  assert.equal(registry.fromFirstFrame(Buffer.from('{"type":"hello"}'), false)?.name, "spec");
  assert.equal(registry.fromFirstFrame(Buffer.from('{"session_id":"esp32-cam-hotpin"}'), false)?.name, "firmware");
  assert.equal(registry.fromFirstFrame(Buffer.from('{"type":"hello","session_id":"x"}'), false)?.name, "spec");
  assert.equal(registry.fromFirstFrame(Buffer.from('{"x":1}'), false), undefined);
  assert.equal(registry.fromFirstFrame(Buffer.from("[1]"), false), undefined);
  assert.equal(registry.fromFirstFrame(Buffer.from("nope"), false), undefined);
  assert.equal(registry.fromFirstFrame(Buffer.alloc(4096), true), undefined);
});

test("detection - a silent client is greeted as the spec dialect", () => {
  assert.equal(registry.whenSilent.name, "spec");
});
