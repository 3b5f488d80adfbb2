import * as grpc from "@grpc/grpc-js";
import { health, storage, stt } from "@hotpin/contracts";

/**
 * The ingest benchmark's STT: a real gRPC server (its own process, started by the harness) that
 * takes a recognition stream, discards the audio and answers an empty final (a spotting stream:
 * discards the audio, detects nothing). The one storage call an utterance makes, the history
 * read at its stop, gets what storage answers a new device (no turns), so the edge is measured on
 * the path production takes rather than on a failed call per device (storage records sessions
 * from the edge's events, not from calls). It also says
 * SERVING to grpc.health.v1 for every name, so the edge's readiness holds. Prints
 * "listening <port>" once bound.
 */
const emptyFinal = (bytes: number): stt.FinalResult => ({
  text: "",
  words: [],
  confidence: 0,
  engine: "sink",
  processingMs: 0,
  quality: { durationMs: bytes / 32, rms: 0, peak: 0, clippingRatio: 0, speechRatio: 0 },
});

const server = new grpc.Server();
server.addService(stt.SpeechToTextService, {
  recognize(call: grpc.ServerDuplexStream<stt.RecognizeRequest, stt.RecognizeResponse>) {
    // Headers at once, as the STT service sends them: they commit the client's call, which
    // until then keeps every message sent for a retry (up to 256 KiB per call in grpc-js).
    call.sendMetadata(new grpc.Metadata());
    let bytes = 0;
    call.on("data", (req: stt.RecognizeRequest) => {
      if (req.request?.$case === "audio") bytes += req.request.value.length;
    });
    call.on("end", () => {
      call.write({ result: { $case: "final", value: emptyFinal(bytes) } });
      call.end();
    });
    call.on("error", () => undefined);
  },
  spot(call: grpc.ServerDuplexStream<stt.SpotRequest, stt.SpotResponse>) {
    call.sendMetadata(new grpc.Metadata());
    call.on("data", () => undefined);
    call.on("end", () => call.end());
    call.on("error", () => undefined);
  },
  recognizeFile(call: grpc.ServerUnaryCall<stt.RecognizeFileRequest, stt.RecognizeFileResponse>, cb) {
    cb(null, { result: emptyFinal(call.request.audio.length) });
  },
} satisfies stt.SpeechToTextServer);
server.addService(storage.StorageService, {
  recentTurns(_call: grpc.ServerUnaryCall<storage.RecentTurnsRequest, storage.RecentTurnsResponse>, cb) {
    cb(null, { turns: [] });
  },
} satisfies Partial<storage.StorageServer>);
server.addService(health.HealthService, {
  check(_call, cb) {
    cb(null, { status: health.HealthCheckResponse_ServingStatus.SERVING });
  },
  watch(call) {
    call.write({ status: health.HealthCheckResponse_ServingStatus.SERVING });
  },
} satisfies health.HealthServer);

server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) {
    console.error(err.message);
    process.exit(1);
  }
  console.log(`listening ${port}`);
});
process.on("SIGTERM", () => server.tryShutdown(() => process.exit(0)));
