import assert from "node:assert/strict";
import { test } from "node:test";
import { type Claimant, DeviceRegistry } from "./devices";

function claimant(id: string): Claimant & { replaced: number } {
  return {
    id,
    replaced: 0,
    replace() {
      this.replaced++;
    },
  };
}

test("devices - a second connection for a device replaces the first", () => {
  const reg = new DeviceRegistry();
  const a = claimant("a");
  const b = claimant("b");
  assert.equal(reg.claim("pin", a), undefined);
  assert.equal(reg.claim("pin", b), a);
  assert.equal(a.replaced, 1);
  assert.equal(reg.get("pin"), b);
  reg.release("pin", a); // the old socket closing later must not evict the new one
  assert.equal(reg.get("pin"), b);
  reg.release("pin", b);
  assert.equal(reg.size, 0);
});

test("devices - an interrupted recording is reported once, within its time", () => {
  const reg = new DeviceRegistry(1000, 2);
  reg.markInterrupted("pin", 0);
  assert.equal(reg.takeInterrupted("pin", 500), true);
  assert.equal(reg.takeInterrupted("pin", 600), false);
  reg.markInterrupted("old", 0);
  assert.equal(reg.takeInterrupted("old", 5000), false);
  reg.markInterrupted("x", 0);
  reg.markInterrupted("y", 0);
  reg.markInterrupted("z", 0);
  assert.equal(reg.takeInterrupted("x", 1), false, "bounded: the oldest entry was dropped");
});
