import assert from "node:assert/strict";
import { test } from "node:test";
import { startNats } from "@hotpin/test-support";
import { connect } from "@nats-io/transport-node";
import { deviceKey, openBucket } from "../fleet/kv-bucket";
import { PENDING_IMAGE_BUCKET, PendingImages } from "./pending-images";

test("pending images - a pointer is only handed to the device it was uploaded for", async () => {
  await using nats = await startNats();
  const nc = await connect({ servers: nats.url });
  try {
    const images = new PendingImages(60_000);
    await images.attach(nc);
    const image = { blobId: "b1", thumbnailBlobId: "t1", mimeType: "image/jpeg", width: 1, height: 1, bytes: 1 };
    await images.put("cam-a", { ...image, deviceId: "cam-a", uploadedAt: Date.now() });
    assert.equal((await images.take("cam-a"))?.blobId, "b1");
    // An entry under cam-b's key that names another device (a collision, a bug, a forged write).
    const kv = await openBucket(nc, PENDING_IMAGE_BUCKET, {});
    await kv.put(deviceKey("cam-b"), JSON.stringify({ ...image, deviceId: "cam-a", uploadedAt: Date.now() }));
    assert.equal(await images.take("cam-b"), undefined);
    // A pointer of the old shape (no owner) is not trusted either.
    await kv.put(deviceKey("cam-c"), JSON.stringify({ ...image, uploadedAt: Date.now() }));
    assert.equal(await images.take("cam-c"), undefined);
  } finally {
    await nc.close();
  }
});
