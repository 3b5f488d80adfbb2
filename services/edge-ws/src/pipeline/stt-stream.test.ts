import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { stt } from "@hotpin/contracts";
import { createGrpcClient } from "@hotpin/runtime";
import { RecordingBuffer } from "../session/recording-buffer";
import { backoffMs } from "./retry";
import { type SttCall, SttStream } from "./stt-stream";

/**
 * SttStream against a real gRPC STT peer whose pool refuses on demand, as the real service does
 * (RESOURCE_EXHAUSTED at once, no headers; accepted streams get headers first). The final's text
 * is a hash of the audio the peer received, so replay order and completeness are checked.
 */
const peer = { refuseStreams: 0, refuseFiles: 0, streamsOpened: 0, filesCalled: 0 };
const busy = () => Object.assign(new Error("busy"), { code: grpc.status.RESOURCE_EXHAUSTED, details: "busy" });
const digest = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const final = (audio: Buffer): stt.FinalResult => ({
  text: digest(audio),
  words: [],
  confidence: 1,
  engine: "test",
  quality: undefined,
  processingMs: 0,
});

let server: grpc.Server;
let client: stt.SpeechToTextClient;

before(async () => {
  server = new grpc.Server();
  server.addService(stt.SpeechToTextService, {
    recognize(call: grpc.ServerDuplexStream<stt.RecognizeRequest, stt.RecognizeResponse>) {
      peer.streamsOpened++;
      if (peer.refuseStreams > 0) {
        peer.refuseStreams--;
        call.emit("error", busy());
        return;
      }
      call.sendMetadata(new grpc.Metadata());
      const parts: Buffer[] = [];
      call.on("data", (r: stt.RecognizeRequest) => r.request?.$case === "audio" && parts.push(r.request.value));
      call.on("end", () => {
        call.write({ result: { $case: "final", value: final(Buffer.concat(parts)) } });
        call.end();
      });
    },
    recognizeFile(
      call: grpc.ServerUnaryCall<stt.RecognizeFileRequest, stt.RecognizeFileResponse>,
      cb: grpc.sendUnaryData<stt.RecognizeFileResponse>,
    ) {
      peer.filesCalled++;
      if (peer.refuseFiles > 0) {
        peer.refuseFiles--;
        return cb(busy());
      }
      cb(null, { result: final(call.request.audio) });
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  client = createGrpcClient(stt.SpeechToTextClient, `127.0.0.1:${port}`);
});
after(() => {
  client.close();
  server.forceShutdown();
});

function recording(opts: { retries: number; memoryBytes?: number }) {
  const buffer = new RecordingBuffer({
    memoryBytes: opts.memoryBytes ?? 1 << 20,
    dir: join(tmpdir(), "hotpin-edge-stt-test"),
    diskQuotaBytes: 1 << 24,
  });
  const seen: { refused: SttCall[]; retried: SttCall[] } = { refused: [], retried: [] };
  const stream = new SttStream(client, {
    deviceId: "d",
    sessionId: "s",
    partials: false,
    onPartial: () => {},
    recording: buffer,
    retry: { retries: opts.retries, baseMs: 5, capMs: 20 },
    onRefused: (c) => seen.refused.push(c),
    onRetry: (c) => seen.retried.push(c),
  });
  const all: Buffer[] = [];
  const add = (n: number) => {
    const pcm = Buffer.alloc(n, all.length + 1);
    all.push(pcm);
    buffer.append(pcm);
    stream.write(pcm);
  };
  return { buffer, stream, seen, add, audio: () => Buffer.concat(all) };
}

/** Feeds chunks until the peer has seen `streams` opened, at most `max` chunks (yielding to I/O between). */
async function feedUntil(add: (n: number) => void, streams: number, max = 500) {
  for (let i = 0; i < max && peer.streamsOpened < streams; i++) {
    add(640);
    await new Promise((r) => setTimeout(r, 2));
  }
}

test("stt stream - a refused stream is reopened after a backoff and the recording so far replayed, in order", async () => {
  Object.assign(peer, { refuseStreams: 2, refuseFiles: 0, streamsOpened: 0, filesCalled: 0 });
  const r = recording({ retries: 6, memoryBytes: 4_000 }); // small memory: the replay reads the spill file too
  await feedUntil(r.add, 3);
  assert.equal(peer.streamsOpened, 3);
  for (let i = 0; i < 20; i++) r.add(640); // after the reopen: live or caught up by the replay
  const res = await r.stream.finish(5_000);
  assert.equal(res.text, digest(r.audio()));
  assert.equal(peer.filesCalled, 0);
  assert.deepEqual(r.seen, { refused: ["stream", "stream"], retried: ["stream", "stream"] });
  await r.buffer.dispose();
});

test("stt stream - no stream accepted before the stop: RecognizeFile with retries gets the whole recording", async () => {
  Object.assign(peer, { refuseStreams: 100, refuseFiles: 2, streamsOpened: 0, filesCalled: 0 });
  const r = recording({ retries: 3 });
  await feedUntil(r.add, 4); // the first call and 3 retries, all refused
  const res = await r.stream.finish(5_000);
  assert.equal(res.text, digest(r.audio()));
  assert.equal(peer.streamsOpened, 4, "stream retries are bounded");
  assert.equal(peer.filesCalled, 3);
  assert.deepEqual(r.seen.refused, ["stream", "stream", "stream", "stream", "file", "file"]);
  assert.deepEqual(r.seen.retried, ["stream", "stream", "stream", "file", "file"]);
  await r.buffer.dispose();
});

test("stt stream - retries are bounded: a pool that stays full fails the stage with stt_failed", async () => {
  Object.assign(peer, { refuseStreams: 100, refuseFiles: 100, streamsOpened: 0, filesCalled: 0 });
  const r = recording({ retries: 2 });
  await feedUntil(r.add, 3);
  await assert.rejects(r.stream.finish(5_000), (err: Error & { code?: string }) => err.code === "stt_failed");
  assert.equal(peer.streamsOpened, 3);
  assert.equal(peer.filesCalled, 3);
  await r.buffer.dispose();
});

test("retry - full jitter stays within [0, min(cap, base·2^n)]", () => {
  const policy = { retries: 6, baseMs: 100, capMs: 2_000 };
  assert.equal(
    backoffMs(0, policy, () => 0.999),
    99,
  );
  assert.equal(
    backoffMs(3, policy, () => 0.5),
    400,
  );
  assert.equal(
    backoffMs(10, policy, () => 0.999),
    1_998,
  );
  assert.equal(
    backoffMs(10, policy, () => 0),
    0,
  );
});
