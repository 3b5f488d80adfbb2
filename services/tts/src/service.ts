import type { tts } from "@hotpin/contracts";
import { Attr, grpc, grpcError, inSpan, type Logger } from "@hotpin/runtime";
import { EngineError, InvalidRequestError, SynthesisCancelledError, UnknownVoiceError } from "./errors";
import type { Outcome, TtsMetrics } from "./metrics";
import { type PlanLimits, planRequest } from "./request-plan";
import type { Slots } from "./slots";
import type { Speaker } from "./speaker";

export interface ServiceDeps {
  speaker: Speaker;
  slots: Slots;
  metrics: TtsMetrics;
  log: Logger;
  limits: PlanLimits;
}

type Call = grpc.ServerWritableStream<tts.SynthesizeRequest, tts.SynthesizeResponse>;

/** hotpin.tts.v1.TextToSpeech over the speaker, with admission, cancellation and status mapping. */
export function textToSpeechService(deps: ServiceDeps): tts.TextToSpeechServer {
  return {
    synthesize: (call: Call) => {
      void synthesize(deps, call);
    },
  };
}

async function synthesize({ speaker, slots, metrics, log, limits }: ServiceDeps, call: Call): Promise<void> {
  const began = performance.now();
  const count = (outcome: Outcome) => metrics.requests.inc({ outcome });
  let prepared: ReturnType<Speaker["prepare"]>;
  try {
    prepared = speaker.prepare(planRequest(call.request, limits));
  } catch (err) {
    count("invalid");
    fail(call, grpcError(grpc.status.INVALID_ARGUMENT, (err as Error).message));
    return;
  }
  // Requests served wholly from the phrase cache need no engine, so spoken errors still work
  // when every slot is busy.
  const release = prepared.needsEngine ? slots.tryAcquire() : () => {};
  if (!release) {
    count("refused");
    fail(call, grpcError(grpc.status.RESOURCE_EXHAUSTED, `all ${slots.capacity} synthesis slots are busy`));
    return;
  }
  const abort = new AbortController();
  const onCancel = () => abort.abort();
  call.on("cancelled", onCancel);
  if (call.cancelled) abort.abort();
  metrics.active.inc();
  const attrs = {
    [Attr.deviceId]: call.request.deviceId,
    [Attr.sessionId]: call.request.sessionId,
    [Attr.engine]: "espeak-ng",
    "hotpin.tts.sentences": prepared.sentences.length,
  };
  try {
    const done = await inSpan("tts.synthesize", attrs, async (span) => {
      let first = true;
      let last: tts.SynthesisDone | undefined;
      for await (const msg of speaker.speak(prepared, abort.signal)) {
        if (msg.event?.$case === "chunk" && first) {
          first = false;
          metrics.firstChunk.observe((performance.now() - began) / 1000);
        }
        if (msg.event?.$case === "done") last = msg.event.value;
        if (!call.write(msg)) await drained(call, abort.signal);
      }
      if (last) {
        span.setAttribute(Attr.audioBytes, last.totalBytes);
        span.setAttribute(Attr.audioMs, last.durationMs);
        span.setAttribute("hotpin.tts.truncated", last.truncated);
      }
      return last;
    });
    call.end();
    count(done?.truncated ? "truncated" : "ok");
    log.debug(
      {
        sentences: done?.sentencesSpoken,
        bytes: done?.totalBytes,
        truncated: done?.truncated,
        ms: Math.round(performance.now() - began),
      },
      "synthesis done",
    );
  } catch (err) {
    if (err instanceof SynthesisCancelledError || abort.signal.aborted) {
      count("cancelled");
      return;
    }
    count("failed");
    const code =
      err instanceof UnknownVoiceError || err instanceof InvalidRequestError
        ? grpc.status.INVALID_ARGUMENT
        : err instanceof EngineError && err.retryable
          ? grpc.status.UNAVAILABLE
          : grpc.status.INTERNAL;
    log.warn({ err: { name: (err as Error).name, message: (err as Error).message }, code }, "synthesis failed");
    fail(call, grpcError(code, (err as Error).message));
  } finally {
    abort.abort(); // stops any engine work still running, whatever ended the call
    call.off("cancelled", onCancel);
    metrics.active.dec();
    release();
  }
}

/**
 * Ends the call with a status. grpc-js turns an "error" event on a server stream into the
 * call's status; destroy() would skip sending it and leave the client waiting.
 */
function fail(call: Call, err: grpc.ServiceError): void {
  call.emit("error", err);
}

/** Waits for the transport to take more, or for the call to be cancelled. */
function drained(call: Call, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      call.off("drain", done);
      signal.removeEventListener("abort", done);
      resolve();
    };
    call.on("drain", done);
    signal.addEventListener("abort", done, { once: true });
  });
}
