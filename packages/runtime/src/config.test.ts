import assert from "node:assert/strict";
import { test } from "node:test";
import { bool, int, list, oneOf, readConfig, secret, str } from "./config";
import { ConfigError } from "./errors";

const settings = {
  port: int("X_PORT", 8000, "port", { min: 1, max: 65535 }),
  name: str("X_NAME", undefined, "a required name"),
  debug: bool("X_DEBUG", false, "debug mode"),
  engine: oneOf("X_ENGINE", ["auto", "vosk"], "auto", "engine"),
  key: secret("X_KEY", "api key"),
  tokens: list("X_TOKENS", "tokens"),
};

test("runtime - readConfig applies defaults and parses values", () => {
  const cfg = readConfig(settings, { X_NAME: "n", X_DEBUG: "yes", X_TOKENS: "a, b,,c" });
  assert.deepEqual(cfg, { port: 8000, name: "n", debug: true, engine: "auto", key: "", tokens: ["a", "b", "c"] });
});

test("runtime - readConfig names every bad variable at once", () => {
  const err = (() => {
    try {
      readConfig(settings, { X_PORT: "99999", X_ENGINE: "whisper", X_DEBUG: "maybe" });
    } catch (e) {
      return e;
    }
    return undefined;
  })();
  assert.ok(err instanceof ConfigError);
  const text = err.problems.join("\n");
  for (const name of ["X_PORT", "X_NAME", "X_ENGINE", "X_DEBUG"]) assert.match(text, new RegExp(name));
  assert.equal(err.problems.length, 4);
});

test("runtime - readConfig never echoes a secret's value", () => {
  const withSecret = {
    key: {
      ...secret("X_KEY", "api key"),
      read: () => {
        throw new Error("bad");
      },
    },
  };
  assert.throws(
    () => readConfig(withSecret, { X_KEY: "super-secret-value" }),
    (e: Error) => !e.message.includes("super-secret-value"),
  );
});
