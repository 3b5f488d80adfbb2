import assert from "node:assert/strict";
import { test } from "node:test";
import { checkDeviceId, isValidDeviceId, secretsEqual, subjectToken } from "./device-id";
import { commandSubject, eventSubject } from "./events";

const KV_KEY = /^[-/_=.a-zA-Z0-9]+$/;
const SUBJECT_TOKEN = /^[^\s.*>]+$/;

test("runtime - device ids: printable ASCII without spaces, 1-128 characters", () => {
  for (const ok of ["esp32-cam-hotpin", "a", "x".repeat(128), "dev.1:kitchen/a", "!~"]) {
    assert.ok(isValidDeviceId(ok), ok);
  }
  for (const bad of [
    "",
    "x".repeat(129),
    "x".repeat(4096),
    "a b",
    "tab\t",
    "nul\0",
    "é",
    "line\n",
    7,
    undefined,
    null,
  ]) {
    assert.equal(isValidDeviceId(bad), false, String(bad));
  }
  assert.throws(() => checkDeviceId("a b"), /printable ASCII/);
  assert.equal(checkDeviceId("pin-7"), "pin-7");
});

test("runtime - every valid device id gets a short subject token and KV key, without collisions", () => {
  assert.equal(subjectToken("esp32-cam-hotpin-001"), "esp32-cam-hotpin-001");
  const punctuated = `${"!#$%&'()*+,-./:;<=>?@[]^_`{|}~".repeat(4)}`.slice(0, 128);
  for (const id of ["a.b", "a_b", "a*b", "a>b", "x".repeat(65), "x".repeat(128), punctuated, "=abc"]) {
    const t = subjectToken(id);
    assert.ok(t.length <= 64, `${id} → ${t}`);
    assert.match(t, KV_KEY);
    assert.match(t, SUBJECT_TOKEN);
  }
  // Ids that differ only in characters a subject cannot hold stay apart.
  assert.notEqual(subjectToken("a.b"), subjectToken("a_b"));
  assert.notEqual(subjectToken("a.b"), subjectToken("a*b"));
  assert.ok(eventSubject("x".repeat(128), "connected").length < 100);
  assert.ok(commandSubject(punctuated).length < 100);
});

test("runtime - secrets compare equal only when equal, whatever their lengths", () => {
  assert.ok(secretsEqual("abc", "abc"));
  assert.equal(secretsEqual("abc", "abd"), false);
  assert.equal(secretsEqual("abc", "abcd"), false);
  assert.equal(secretsEqual("", "x".repeat(10_000)), false);
});
