import { DependencyError } from "@hotpin/runtime";

/** The engine could not produce audio; `retryable` says whether another try may help. */
export class EngineError extends DependencyError {
  override name = "EngineError";
}

/** espeak-ng does not know the requested voice: the caller's mistake, not worth retrying. */
export class UnknownVoiceError extends Error {
  override name = "UnknownVoiceError";
}

/** A request the service will not run as given (bad voice parameters, too much text…). */
export class InvalidRequestError extends Error {
  override name = "InvalidRequestError";
}

/** Synthesis stopped because the caller went away or the process is shutting down. */
export class SynthesisCancelledError extends Error {
  override name = "SynthesisCancelledError";
  constructor() {
    super("synthesis cancelled");
  }
}
