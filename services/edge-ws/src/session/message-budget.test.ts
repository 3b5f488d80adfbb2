import assert from "node:assert/strict";
import { test } from "node:test";
import { MessageBudget } from "./message-budget";

test("message budget - a burst up to the rate passes, the next is refused until the bucket refills", () => {
  let now = 1_000;
  const budget = new MessageBudget(3, () => now);
  assert.deepEqual([budget.take(), budget.take(), budget.take(), budget.take()], [true, true, true, false]);
  now += 333; // 0.999 of a token
  assert.equal(budget.take(), false);
  now += 1;
  assert.equal(budget.take(), true);
  now += 60_000; // a long pause refills to the rate, never beyond
  assert.deepEqual([budget.take(), budget.take(), budget.take(), budget.take()], [true, true, true, false]);
});
