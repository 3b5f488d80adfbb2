import assert from "node:assert/strict";
import { test } from "node:test";
import sharp from "sharp";
import { prepareImage } from "./prepare-image";
import { testJpeg, testPng } from "./sample-images.test-util";
import { sniffImageType } from "./sniff";
import { UploadError } from "./upload-error";

const limits = { maxPixels: 4_000_000, maxDimension: 256, thumbnailPx: 32 };

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof UploadError, String(err));
    return err.code;
  }
  assert.fail("expected a refusal");
}

test("images - sniffs JPEG and PNG from the bytes, nothing else", async () => {
  assert.equal(sniffImageType(await testJpeg(8, 8)), "image/jpeg");
  assert.equal(sniffImageType(await testPng(8, 8)), "image/png");
  assert.equal(sniffImageType(Buffer.from("GIF89a........")), undefined);
  assert.equal(sniffImageType(Buffer.from("<html>")), undefined);
  assert.equal(sniffImageType(Buffer.alloc(0)), undefined);
});

test("images - auto-rotates by EXIF, strips metadata, resizes to the maximum dimension, makes a thumbnail", async () => {
  // 600×300 stored with orientation 6 (rotate 90° clockwise to view): upright it is 300×600.
  const source = await testJpeg(600, 300, { orientation: 6 });
  assert.equal((await sharp(source).metadata()).orientation, 6);
  const out = await prepareImage(source, limits);
  assert.equal(out.mimeType, "image/jpeg");
  assert.deepEqual([out.width, out.height], [128, 256]);
  const meta = await sharp(out.image).metadata();
  assert.deepEqual([meta.width, meta.height, meta.format], [128, 256, "jpeg"]);
  assert.equal(meta.orientation, undefined);
  assert.equal(meta.exif, undefined);
  const thumb = await sharp(out.thumbnail).metadata();
  assert.deepEqual([thumb.width, thumb.height], [16, 32]);
});

test("images - PNG with transparency becomes a flattened JPEG; small images are not enlarged", async () => {
  const out = await prepareImage(await testPng(40, 20), limits);
  const meta = await sharp(out.image).metadata();
  assert.deepEqual([meta.format, meta.width, meta.height, meta.hasAlpha], ["jpeg", 40, 20, false]);
  assert.equal(out.sourceType, "image/png");
});

test("images - refuses non-images, pixel bombs, truncated and corrupt files with their own codes", async () => {
  assert.equal(await refusal(prepareImage(Buffer.from("definitely not an image"), limits)), "not_an_image");
  assert.equal(await refusal(prepareImage(await testJpeg(2100, 2000), limits)), "too_many_pixels");
  const jpeg = await testJpeg(400, 400);
  assert.equal(await refusal(prepareImage(jpeg.subarray(0, Math.floor(jpeg.length / 2)), limits)), "corrupt_image");
  const garbage = Buffer.concat([jpeg.subarray(0, 3), Buffer.alloc(2000, 0x55)]);
  assert.equal(await refusal(prepareImage(garbage, limits)), "corrupt_image");
});
