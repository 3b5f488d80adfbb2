import type { Logger } from "pino";
import { shutdownTelemetry } from "./telemetry/sdk";

let installed = false;

/**
 * A throw nobody caught or a rejection nobody handled leaves a process in an unknown state:
 * log it (with the error, as `{ err }`), flush spans briefly, and exit 1 so the supervisor
 * restarts a clean process. Installed once per process by startRuntime; CLIs call it too.
 */
export function exitOnCrash(log: Logger, flushMs = 1_000): void {
  if (installed) return;
  installed = true;
  let crashing = false;
  const crash = (kind: string) => (err: unknown) => {
    if (crashing) return;
    crashing = true;
    log.fatal({ err, kind }, "process crashed, exiting");
    const flushed = Promise.race([shutdownTelemetry(), new Promise((r) => setTimeout(r, flushMs).unref())]);
    void flushed.catch(() => undefined).finally(() => process.exit(1));
  };
  process.on("uncaughtException", crash("uncaughtException"));
  process.on("unhandledRejection", crash("unhandledRejection"));
}
