/** A setting is missing or malformed; the message names every bad variable at once. */
export class ConfigError extends Error {
  override name = "ConfigError";
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join("\n  ")}`);
  }
}

/** A dependency of this process (NATS, a gRPC peer, an engine) could not be used. */
export class DependencyError extends Error {
  override name = "DependencyError";
  constructor(
    message: string,
    readonly retryable: boolean,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
