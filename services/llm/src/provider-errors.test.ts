import assert from "node:assert/strict";
import { test } from "node:test";
import { backoffMs } from "./backoff";
import { classifyProviderError, parseRetryAfter } from "./provider-errors";

const headers = (h: Record<string, string>) => new Headers(h);

test("provider errors - 408/429/5xx and network failures are retryable, 404 and retired models fall back", () => {
  assert.equal(classifyProviderError({ status: 429, headers: headers({ "retry-after": "2" }) }).retryAfterMs, 2000);
  assert.equal(classifyProviderError({ status: 503 }).kind, "retryable");
  assert.equal(classifyProviderError({ status: 408 }).kind, "retryable");
  assert.equal(classifyProviderError(new TypeError("fetch failed")).reason, "network");
  assert.equal(classifyProviderError({ status: 404 }).kind, "model-unavailable");
  const retired = { status: 400, error: { error: { code: "model_decommissioned", message: "gone" } } };
  assert.equal(classifyProviderError(retired).kind, "model-unavailable");
  assert.equal(
    classifyProviderError({ status: 400, error: { error: { code: "context_length_exceeded" } } }).kind,
    "fatal",
  );
  assert.equal(classifyProviderError({ status: 401 }).kind, "fatal");
});

test("provider errors - Retry-After in ms, fractional seconds or an HTTP date", () => {
  assert.equal(parseRetryAfter(headers({ "retry-after-ms": "150" })), 150);
  assert.equal(parseRetryAfter(headers({ "retry-after": "0.5" })), 500);
  const now = Date.parse("2025-01-01T00:00:00Z");
  assert.equal(parseRetryAfter(headers({ "retry-after": "Wed, 01 Jan 2025 00:00:03 GMT" }), now), 3000);
  assert.equal(parseRetryAfter(headers({})), undefined);
});

test("backoff - grows exponentially with full jitter and stays under the cap", () => {
  assert.equal(
    backoffMs(1, 100, 1000, () => 1),
    100,
  );
  assert.equal(
    backoffMs(3, 100, 1000, () => 1),
    400,
  );
  assert.equal(
    backoffMs(10, 100, 1000, () => 1),
    1000,
  );
  assert.equal(
    backoffMs(3, 100, 1000, () => 0),
    0,
  );
});
