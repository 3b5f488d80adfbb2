import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigError } from "@hotpin/runtime";
import { clientAddress, Dap1Access } from "./access";

const cfg = (networks: string[], devices: string[] = [], port = 5000) => ({
  dap1Port: port,
  dap1AllowedNetworks: networks,
  dap1Devices: devices,
});

test("dap1 access - only configured networks may connect", () => {
  const a = Dap1Access.fromConfig(cfg(["192.168.1.0/24", "10.0.0.7", "fd00::/8"]));
  assert.equal(a.allows("192.168.1.50"), true);
  assert.equal(a.allows("192.168.2.50"), false);
  assert.equal(a.allows("10.0.0.7"), true);
  assert.equal(a.allows("10.0.0.8"), false);
  assert.equal(a.allows("fd12::1"), true);
  assert.equal(a.allows("not an address"), false);
  assert.equal(clientAddress("::ffff:192.168.1.50"), "192.168.1.50");
});

test("dap1 access - a device is its address unless the map names it", () => {
  const a = Dap1Access.fromConfig(cfg(["192.168.1.0/24"], ["192.168.1.50=kitchen"]));
  assert.equal(a.deviceId("192.168.1.50"), "kitchen");
  assert.equal(a.deviceId("192.168.1.51"), "192.168.1.51");
});

test("dap1 access - the port without an allow-list, bad networks and bad map entries all stop start-up", () => {
  assert.throws(() => Dap1Access.fromConfig(cfg([])), ConfigError);
  assert.doesNotThrow(() => Dap1Access.fromConfig(cfg([], [], 0)));
  const err = (() => {
    try {
      Dap1Access.fromConfig(cfg(["300.1.1.1/8", "10.0.0.0/33"], ["kitchen", "10.0.0.1=bad id\u0001"]));
    } catch (e) {
      return e as ConfigError;
    }
  })();
  assert.ok(err instanceof ConfigError);
  assert.equal(err.problems.length, 4);
});
