import assert from "node:assert/strict";
import { test } from "node:test";
import { dialectFromFirstFrame, dialectFromUrl } from "./detect";

test("detection - ?session= is the spec dialect", () => {
  assert.equal(dialectFromUrl(new URL("ws://h/ws?session=pin&token=t")), "spec");
  assert.equal(dialectFromUrl(new URL("ws://h/ws")), undefined);
});

test("detection - first frame decides: type is spec, session_id is firmware", () => {
  assert.equal(dialectFromFirstFrame(Buffer.from('{"type":"hello"}'), false), "spec");
  assert.equal(dialectFromFirstFrame(Buffer.from('{"session_id":"esp32-cam-hotpin"}'), false), "firmware");
  assert.equal(dialectFromFirstFrame(Buffer.from('{"x":1}'), false), undefined);
  assert.equal(dialectFromFirstFrame(Buffer.from("nope"), false), undefined);
  assert.equal(dialectFromFirstFrame(Buffer.alloc(4096), true), undefined);
});
