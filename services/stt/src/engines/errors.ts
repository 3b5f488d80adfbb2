/** An engine call failed with a gRPC status code the stream should end with. */
export class EngineCallError extends Error {
  override name = "EngineCallError";
  constructor(
    readonly code: number,
    message: string,
    cause?: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause });
  }
}
