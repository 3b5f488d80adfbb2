import assert from "node:assert/strict";
import { test } from "node:test";
import { connect } from "@nats-io/transport-node";
import { startNats } from "./nats";

test("test-support - startNats serves JetStream and comes back on the same port after a stop", async () => {
  await using nats = await startNats();
  const nc = await connect({ servers: nats.url });
  const info = nc.info;
  assert.equal(info?.jetstream, true);
  await nc.close();
  const port = nats.port;
  await nats.stop();
  await nats.start();
  assert.equal(nats.port, port);
  const again = await connect({ servers: nats.url });
  await again.close();
});
