import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { connectNats, createLogger } from "@hotpin/runtime";
import { startNats, type TestNats } from "@hotpin/test-support";
import type { NatsConnection } from "@nats-io/transport-node";

/**
 * The connection every service gets from connectNats: no stack trace is captured per request
 * (each JetStream publish and KV read is one), so a request that fails carries the stack of
 * where it failed, not of who asked.
 */
let nats: TestNats;
let nc: NatsConnection;

before(async () => {
  nats = await startNats();
  nc = await connectNats({ servers: nats.url, name: "nats-connection-test", log: createLogger("t", "silent") });
});
after(async () => {
  await nc?.close();
  await nats?.[Symbol.asyncDispose]();
});

test("nats - a request captures no stack trace of its caller", async () => {
  // A responder that never answers: the request times out.
  const silent = nc.subscribe("test.silent", { callback: () => undefined });
  await nc.flush();
  async function askTheSilentPeer() {
    return nc.request("test.silent", "hello", { timeout: 50 });
  }
  const err = await askTheSilentPeer().then(
    () => assert.fail("the silent peer answered"),
    (e: Error) => e,
  );
  silent.unsubscribe();
  assert.match(err.message, /timeout/i);
  assert.doesNotMatch(err.stack ?? "", /askTheSilentPeer/);
});
