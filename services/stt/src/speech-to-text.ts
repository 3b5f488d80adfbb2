import { parseWav, WavError } from "@hotpin/audio";
import type { stt } from "@hotpin/contracts";
import { grpc, grpcError } from "@hotpin/runtime";
import { RecognizeSession, type SessionDeps } from "./recognize-session";

/** Pieces a whole file is fed in, so one engine call never holds a worker for long. */
const FILE_PIECE_BYTES = 8_192;

/** hotpin.stt.v1.SpeechToText over the worker pool. */
export function speechToText(deps: SessionDeps): stt.SpeechToTextServer {
  return {
    recognize(call) {
      const session = new RecognizeSession(deps, {
        partial: (value) => call.write({ result: { $case: "partial", value } }),
        final: (value) => {
          call.write({ result: { $case: "final", value } });
          call.end();
        },
        fail: (err) => call.emit("error", err),
        pause: () => call.pause(),
        resume: () => call.resume(),
      });
      serve(call, session, (config) => session.configure(config));
    },

    spot(call) {
      const session = new RecognizeSession(
        deps,
        {
          partial: () => {},
          detection: (detection) => call.write({ detection }),
          final: () => call.end(),
          fail: (err) => call.emit("error", err),
          pause: () => call.pause(),
          resume: () => call.resume(),
        },
        "spot",
      );
      serve(call, session, (config) => session.configureSpot(config));
    },

    recognizeFile(call, callback) {
      let answered = false;
      const answer = (err: grpc.ServiceError | null, res?: stt.RecognizeFileResponse) => {
        if (answered) return;
        answered = true;
        callback(err, res);
      };
      const session = new RecognizeSession(deps, {
        partial: () => {},
        final: (result) => answer(null, { result }),
        fail: (err) => answer(err),
        pause: () => {},
        resume: () => {},
      });
      if (session.isClosed) return;
      call.on("cancelled", () => session.cancel());
      if (call.cancelled) return session.cancel();
      const config = { ...(call.request.config ?? emptyConfig()), partialResults: false };
      let audio = call.request.audio;
      if (audio.length >= 12 && audio.toString("ascii", 0, 4) === "RIFF") {
        try {
          const wav = parseWav(audio);
          if (wav.format.channels !== 1 || wav.format.bitsPerSample !== 16) {
            throw new WavError("only 16-bit mono WAV is supported");
          }
          config.sampleRateHz = wav.format.sampleRate;
          audio = wav.data;
        } catch (err) {
          session.cancel();
          return answer(grpcError(grpc.status.INVALID_ARGUMENT, `bad WAV file: ${(err as Error).message}`));
        }
      }
      session.configure(config);
      for (let at = 0; at < audio.length && !session.isClosed; at += FILE_PIECE_BYTES) {
        session.audio(audio.subarray(at, at + FILE_PIECE_BYTES));
      }
      session.end();
    },
  };
}

/** A streaming call's requests into its session: config first, then audio, half-close, cancel. */
function serve<C>(
  call: grpc.ServerDuplexStream<
    { request?: { $case: "config"; value: C } | { $case: "audio"; value: Buffer } },
    unknown
  >,
  session: RecognizeSession,
  configure: (config: C) => void,
): void {
  if (session.isClosed) return;
  // Headers now tell the client its stream holds a worker slot (a refusal has none).
  call.sendMetadata(new grpc.Metadata());
  call.on("data", (req: { request?: { $case: "config"; value: C } | { $case: "audio"; value: Buffer } }) => {
    const r = req.request;
    if (r?.$case === "config") configure(r.value);
    else if (r?.$case === "audio") session.audio(r.value);
    else session.invalid("request has neither config nor audio");
  });
  call.on("end", () => session.end());
  call.on("cancelled", () => session.cancel());
  call.on("error", () => session.cancel());
  // A client may cancel before this handler ran; that event is already gone.
  if (call.cancelled) session.cancel();
}

function emptyConfig(): stt.RecognitionConfig {
  return { sampleRateHz: 0, language: "", partialResults: false, engine: "", deviceId: "", sessionId: "" };
}
