import assert from "node:assert/strict";
import { test } from "node:test";
import { PhraseCache } from "./phrase-cache";

const key = (text: string, voice = "en-us", sampleRateHz = 16_000) =>
  PhraseCache.key({ text, voice, rateWpm: 175, pitch: 50, sampleRateHz });

test("phrase cache - keys differ by text, voice and format and hide the text", () => {
  const k = key("Please record again.");
  assert.notEqual(k, key("Please record again!"));
  assert.notEqual(k, key("Please record again.", "en-gb"));
  assert.notEqual(k, key("Please record again.", "en-us", 8_000));
  assert.ok(!k.includes("record"));
});

test("phrase cache - evicts least recently used entries to stay within its bytes", () => {
  const c = new PhraseCache(300, 200);
  c.set("a", Buffer.alloc(100));
  c.set("b", Buffer.alloc(100));
  c.set("c", Buffer.alloc(100));
  assert.ok(c.get("a")); // a is now the most recent
  c.set("d", Buffer.alloc(100));
  assert.equal(c.has("b"), false);
  assert.ok(c.has("a") && c.has("c") && c.has("d"));
  assert.equal(c.bytes, 300);
});

test("phrase cache - refuses entries above the per-entry limit and replaces same keys", () => {
  const c = new PhraseCache(1000, 100);
  assert.equal(c.set("big", Buffer.alloc(101)), false);
  assert.equal(c.size, 0);
  c.set("x", Buffer.alloc(50));
  c.set("x", Buffer.alloc(80));
  assert.equal(c.bytes, 80);
  assert.equal(c.size, 1);
});

test("phrase cache - size 0 keeps nothing", () => {
  const c = new PhraseCache(0);
  assert.equal(c.set("a", Buffer.alloc(2)), false);
  assert.equal(c.get("a"), undefined);
});
