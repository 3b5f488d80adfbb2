import { grpc } from "@hotpin/runtime";
import type { ErrorCode } from "../session/model";

export type Stage = "stt" | "llm" | "tts" | "storage";

/** A pipeline stage failed; `code` is what the device is told. */
export class StageError extends Error {
  override name = "StageError";
  constructor(
    readonly stage: Stage,
    readonly code: ErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export function grpcCode(err: unknown): grpc.status | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === "number" ? code : undefined;
}

export function stageError(stage: Stage, err: unknown): StageError {
  if (err instanceof StageError) return err;
  const status = grpcCode(err);
  const code: ErrorCode =
    stage === "llm" && status === grpc.status.FAILED_PRECONDITION
      ? "llm_unconfigured"
      : stage === "stt"
        ? "stt_failed"
        : stage === "llm"
          ? "llm_failed"
          : "tts_failed";
  const detail = status === undefined ? (err as Error)?.message : `${grpc.status[status]}`;
  return new StageError(stage, code, `${stage} failed: ${detail}`, { cause: err });
}
