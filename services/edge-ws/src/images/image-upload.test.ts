import assert from "node:assert/strict";
import { request } from "node:http";
import { connect } from "node:net";
import { after, before, test } from "node:test";
import { startNats, type TestNats } from "@hotpin/test-support";
import sharp from "sharp";
import { issueToken } from "../auth";
import { SECRET, STATIC_TOKEN, startEdge, startPeers, TestDevice, tone } from "../test-peers.test-util";
import { testJpeg, testPng } from "./sample-images.test-util";

/**
 * POST /image end to end in this process: two edge replicas (A and B) on one real NATS server
 * (pending-image pointers in KV, image notices over the event stream) in front of
 * contract-speaking gRPC peers that record what the LLM was given.
 */
let nats: TestNats;
let peers: Awaited<ReturnType<typeof startPeers>>;
let a: Awaited<ReturnType<typeof startEdge>>;
let b: Awaited<ReturnType<typeof startEdge>>;
const bearer = { authorization: `Bearer ${STATIC_TOKEN}` };
const MAX_BYTES = 64 * 1024;

before(async () => {
  nats = await startNats();
  peers = await startPeers({ transcript: "what is this", llm: "ok", ttsFails: false });
  const env = {
    HOTPIN_EDGE_IMAGE_MAX_BYTES: String(MAX_BYTES),
    HOTPIN_EDGE_IMAGE_MAX_PIXELS: "1000000",
    HOTPIN_EDGE_IMAGE_MAX_DIMENSION: "256",
    HOTPIN_EDGE_IMAGE_UPLOADS_PER_MINUTE: "3",
    HOTPIN_EDGE_IMAGE_UPLOAD_TIMEOUT_MS: "1500",
  };
  a = await startEdge(peers.address, { ...env, HOTPIN_EDGE_INSTANCE: "edge-a" }, nats.url);
  b = await startEdge(peers.address, { ...env, HOTPIN_EDGE_INSTANCE: "edge-b" }, nats.url);
});
after(async () => {
  await a?.stop();
  await b?.stop();
  peers?.stop();
  await nats?.[Symbol.asyncDispose]();
});

async function specDevice(edge: typeof a, id: string) {
  const d = new TestDevice(`${edge.url}?session=${encodeURIComponent(id)}&token=${STATIC_TOKEN}`);
  await d.opened;
  await d.until((m) => m.type === "ready");
  return d;
}

/** One spec exchange; resolves the image the LLM was given for it. */
async function specUtterance(d: TestDevice) {
  const calls = peers.images.length;
  d.send({ type: "recording_started" });
  for (let seq = 1; seq <= 2; seq++) {
    d.send({ type: "audio_chunk_meta", seq, len_bytes: 16_000 });
    d.ws.send(tone(16_000));
  }
  d.send({ type: "recording_stopped" });
  await d.until((m) => m.type === "tts_ready");
  d.send({ type: "ready_for_playback" });
  await d.until((m) => m.type === "tts_done");
  await d.until((m) => m.type === "state_sync" && m.server_state === "idle");
  assert.equal(peers.images.length, calls + 1);
  return peers.images[calls];
}

async function postRaw(edge: typeof a, query: string, body: Buffer, headers: Record<string, string> = bearer) {
  const res = await fetch(`${edge.http}/image${query}`, {
    method: "POST",
    headers: { "content-type": "image/jpeg", ...headers },
    body,
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function postForm(edge: typeof a, session: string | undefined, file: Buffer, headers = bearer) {
  const form = new FormData();
  if (session !== undefined) form.append("session", session);
  form.append("file", new Blob([file], { type: "image/jpeg" }), "image.jpg");
  const res = await fetch(`${edge.http}/image`, { method: "POST", headers, body: form });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

test("image - spec upload on replica A reaches the LLM of the device on replica B, once; B's socket hears image_received", async () => {
  const d = await specDevice(b, "cam-cross");
  const photo = await testJpeg(800, 400);
  const res = await postRaw(a, "?session=cam-cross", photo);
  assert.equal(res.status, 200);
  assert.equal(res.body.type, "image_received");
  assert.deepEqual([res.body.width, res.body.height], [256, 128]);
  await d.until((m) => m.type === "image_received");
  const image = await specUtterance(d);
  assert.ok(image, "the LLM call carried the image");
  assert.equal(image.mimeType, "image/jpeg");
  const meta = await sharp(image.data).metadata();
  assert.deepEqual([meta.width, meta.height], [256, 128]);
  assert.equal(await specUtterance(d), undefined, "the next turn has no image");
  d.ws.close();
});

test("image - firmware multipart upload survives the device reconnecting before its question (has_image true)", async () => {
  const first = new TestDevice(a.url, bearer);
  await first.opened;
  first.send({ session_id: "cam-firmware" });
  await first.until((m) => m.status === "connected");
  const res = await postForm(b, "cam-firmware", await testPng(300, 300));
  assert.equal(res.status, 200);
  first.ws.close();
  await first.closed;
  const d = new TestDevice(b.url, bearer);
  await d.opened;
  d.send({ session_id: "cam-firmware" });
  await d.until((m) => m.status === "connected");
  const calls = peers.images.length;
  for (let i = 0; i < 8; i++) {
    d.ws.send(tone(4096));
    if (i % 2 === 1) await d.until((m) => m.status === "receiving");
  }
  d.send({ signal: "EOS" });
  const llmStage = await d.until((m) => m.stage === "llm");
  assert.equal(llmStage.has_image, true);
  await d.until((m) => m.status === "complete");
  assert.ok(peers.images[calls], "the LLM got the image");
  d.ws.close();
});

test("image - every bad upload gets its specific answer", async () => {
  const d = await specDevice(a, "cam-bad");
  const jpeg = await testJpeg(64, 64);
  const cases: [string, Promise<{ status: number; body: Record<string, unknown> }>, number, string][] = [
    ["no token", postRaw(a, "?session=cam-bad", jpeg, {}), 401, "unauthorized"],
    ["bad token", postRaw(a, "?session=cam-bad", jpeg, { authorization: "Bearer nope" }), 401, "unauthorized"],
    [
      "token of another device",
      postRaw(a, "?session=cam-bad", jpeg, { authorization: `Bearer ${await issueToken(SECRET, "other", 60)}` }),
      403,
      "wrong_device",
    ],
    ["no session", postRaw(a, "", jpeg), 400, "missing_session"],
    ["multipart without session", postForm(a, undefined, jpeg), 400, "missing_session"],
    ["device id too long", postRaw(a, `?session=${"x".repeat(4096)}`, jpeg), 400, "bad_device_id"],
    ["device id with a space", postForm(a, "cam bad", jpeg), 400, "bad_device_id"],
    ["not an image", postRaw(a, "?session=cam-bad", Buffer.from("<html>hello</html>")), 415, "not_an_image"],
    ["too large (raw)", postRaw(a, "?session=cam-bad", Buffer.alloc(MAX_BYTES + 1, 0xff)), 413, "too_large"],
    ["too many pixels", postRaw(a, "?session=cam-bad", await testPng(1200, 1000)), 413, "too_many_pixels"],
    ["truncated", postRaw(a, "?session=cam-bad", jpeg.subarray(0, jpeg.length - 200)), 422, "corrupt_image"],
    ["empty body", postRaw(a, "?session=cam-bad", Buffer.alloc(0)), 400, "missing_file"],
  ];
  for (const [name, p, status, code] of cases) {
    const res = await p;
    assert.deepEqual([res.status, res.body.error], [status, code], name);
  }
  const big = await postForm(a, "cam-bad", Buffer.alloc(MAX_BYTES + 1, 0xff));
  assert.deepEqual([big.status, big.body.error], [413, "too_large"], "too large (multipart)");
  const get = await fetch(`${a.http}/image?session=cam-bad`, { headers: bearer });
  assert.equal(get.status, 405);
  const stored = a.events.filter((e) => e.deviceId === "cam-bad" && e.payload.$case === "imageReceived");
  assert.equal(stored.length, 0);
  d.ws.close();
});

test("image - a device uploading faster than the per-minute limit gets 429", async () => {
  const d = await specDevice(a, "cam-rate");
  const jpeg = await testJpeg(32, 32);
  const statuses: number[] = [];
  for (let i = 0; i < 4; i++) statuses.push((await postRaw(a, "?session=cam-rate", jpeg)).status);
  assert.deepEqual(statuses, [200, 200, 200, 429]);
  d.ws.close();
});

test("image - a slow trickle over the byte limit is cut off with 413 without reading it all", async () => {
  const d = await specDevice(a, "cam-stream");
  const status = await new Promise<number>((resolve, reject) => {
    const req = request(`${a.http}/image?session=cam-stream`, {
      method: "POST",
      headers: { ...bearer, "content-type": "image/jpeg", "transfer-encoding": "chunked" },
    });
    req.on("response", (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", reject);
    req.write(Buffer.alloc(MAX_BYTES, 0xff));
    req.write(Buffer.alloc(1024, 0xff));
  });
  assert.equal(status, 413);
  d.ws.close();
});

/** Resolves once the counter of upload answers with this outcome reaches `n` (bounded). */
async function uploadsAnswered(edge: typeof a, outcome: string, n: number, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = await edge.metrics.imageUploads.get();
    const v = m.values.find((x) => x.labels.outcome === outcome)?.value ?? 0;
    if (v >= n) return;
    if (Date.now() > deadline) throw new Error(`only ${v} uploads answered ${outcome}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function outcomeCount(edge: typeof a, outcome: string): Promise<number> {
  const m = await edge.metrics.imageUploads.get();
  return m.values.find((x) => x.labels.outcome === outcome)?.value ?? 0;
}

test("image - uploads aborted mid-body give their slot back: after more aborts than slots a normal upload succeeds", async () => {
  const before = await outcomeCount(a, "bad_request");
  const port = Number(new URL(a.http).port);
  for (let i = 0; i < 6; i++) {
    await new Promise<void>((resolve, reject) => {
      const s = connect(port, "127.0.0.1", () => {
        const body = `--b\r\nContent-Disposition: form-data; name="session"\r\n\r\ncam-abort\r\n--b\r\nContent-Disposition: form-data; name="file"; filename="i.jpg"\r\n\r\n\xff\xd8\xff`;
        s.write(
          `POST /image HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${STATIC_TOKEN}\r\n` +
            `Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 40000\r\n\r\n${body}`,
          () => {
            s.destroy();
            resolve();
          },
        );
      });
      s.on("error", reject);
    });
  }
  await uploadsAnswered(a, "bad_request", before + 6);
  const res = await postForm(a, "cam-abort", await testJpeg(32, 32));
  assert.equal(res.status, 200, JSON.stringify(res.body));
});

test("image - an upload slower than its deadline gets 408 and frees its slot", async () => {
  const before = await outcomeCount(a, "timeout");
  const port = Number(new URL(a.http).port);
  const answer = await new Promise<string>((resolve, reject) => {
    const s = connect(port, "127.0.0.1", () => {
      s.write(
        `POST /image?session=cam-slow HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${STATIC_TOKEN}\r\n` +
          "Content-Type: image/jpeg\r\nContent-Length: 40000\r\n\r\n\xff\xd8",
      );
    });
    let got = "";
    s.on("data", (d) => {
      got += d.toString();
    });
    s.on("close", () => resolve(got));
    s.on("error", reject);
  });
  assert.match(answer, /^HTTP\/1\.1 408/);
  assert.match(answer, /"error":"timeout"/);
  assert.equal(await outcomeCount(a, "timeout"), before + 1);
});

test("image - a device that never connected may upload; the image waits for its first turn", async () => {
  const res = await postForm(a, "cam-first-time", await testJpeg(64, 64));
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const d = await specDevice(b, "cam-first-time");
  assert.ok(await specUtterance(d), "the first turn carried the image");
  d.ws.close();
});

test("image - a multipart body that ends inside a part is a 400, not a crash", async () => {
  const body =
    `--b\r\nContent-Disposition: form-data; name="session"\r\n\r\ncam-cut\r\n` +
    `--b\r\nContent-Disposition: form-data; name="file"; filename="i.jpg"\r\n\r\n\xff\xd8\xff\xe0 no end`;
  const res = await fetch(`${a.http}/image`, {
    method: "POST",
    headers: { ...bearer, "content-type": "multipart/form-data; boundary=b" },
    body,
  });
  assert.equal(res.status, 400);
  assert.equal(((await res.json()) as { error: string }).error, "bad_request");
  // The process is alive and uploads still work.
  assert.equal((await postForm(a, "cam-cut", await testJpeg(32, 32))).status, 200);
});
