import assert from "node:assert/strict";
import { test } from "node:test";
import { CircuitBreaker } from "./circuit-breaker";

test("breaker - opens after consecutive failures and lets exactly one trial through when half-open", () => {
  let now = 0;
  const states: string[] = [];
  const b = new CircuitBreaker({
    failureThreshold: 3,
    openMs: 1000,
    now: () => now,
    onStateChange: (s) => states.push(s),
  });
  b.onFailure();
  b.onFailure();
  b.onSuccess(); // a success in between resets the count
  b.onFailure();
  b.onFailure();
  assert.equal(b.state, "closed");
  b.onFailure();
  assert.equal(b.state, "open");
  assert.equal(b.tryAcquire(), false);
  assert.equal(b.retryInMs(), 1000);
  now = 1000;
  assert.equal(b.tryAcquire(), true, "the trial");
  assert.equal(b.state, "half-open");
  assert.equal(b.tryAcquire(), false, "no second call while the trial runs");
  b.release();
  assert.equal(b.tryAcquire(), true, "a released trial can be taken again");
  b.onSuccess();
  assert.equal(b.state, "closed");
  assert.deepEqual(states, ["open", "half-open", "closed"]);
});
