import assert from "node:assert/strict";
import { test } from "node:test";
import { cleanText, forTerminal, MAX_CLOSE_REASON_BYTES } from "./text";

test("runtime - cleanText replaces NUL and control characters and cuts by bytes, not characters", () => {
  assert.equal(cleanText("bye\0now\x1b[2J\x85", 100), "bye\ufffdnow\ufffd[2J\ufffd");
  const long = "é".repeat(100); // 200 bytes
  const cut = cleanText(long, MAX_CLOSE_REASON_BYTES);
  assert.ok(Buffer.byteLength(cut) <= MAX_CLOSE_REASON_BYTES);
  assert.equal(cut, "é".repeat(61));
  assert.equal(cleanText("a😀b", 5), "a😀");
  assert.equal(cleanText("x\ud800y", 10), "x\ufffdy");
});

test("runtime - forTerminal escapes what could drive a terminal", () => {
  assert.equal(forTerminal("pin\x1b]0;owned\x07"), "pin\\u001b]0;owned\\u0007");
  assert.equal(forTerminal("ok\u202eevil"), "ok\\u202eevil");
  assert.equal(forTerminal("plain-id 7"), "plain-id 7");
});
