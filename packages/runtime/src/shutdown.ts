import type { Logger } from "pino";
import { armExitWatchdog } from "./exit-watchdog";
import { shutdownTelemetry } from "./telemetry/sdk";

export interface ShutdownStep {
  name: string;
  run: () => unknown | Promise<unknown>;
}

export interface ShutdownOptions {
  /** Time between failing readiness and closing, for load balancers to notice. */
  drainDelayMs: number;
  /** Longest any one step may take before it is abandoned. */
  stepTimeoutMs: number;
  /** Longest the whole shutdown may take after the signal; then the process is killed. */
  deadlineMs: number;
  /** Standard input closing starts the shutdown too: the launcher holding its other end is gone. */
  stopOnStdinClose?: boolean;
}

/**
 * The one shutdown sequence of every process, on SIGTERM or SIGINT: fail readiness, wait
 * briefly, run the steps in order (stop accepting, finish work in flight, drain NATS, close
 * stores), flush telemetry, exit 0. A second signal ends the process at once, and so does the
 * deadline, whatever the main thread is stuck on.
 */
export class Shutdown {
  private readonly steps: ShutdownStep[] = [];
  private started: Promise<void> | undefined;

  constructor(
    private readonly log: Logger,
    private readonly failReadiness: () => void,
    private readonly options: ShutdownOptions,
  ) {}

  add(name: string, run: ShutdownStep["run"]): void {
    this.steps.push({ name, run });
  }

  /** Installs the signal handlers; call once per process. */
  listen(): void {
    const begin = (reason: string) => {
      // Without listeners a second SIGTERM or SIGINT takes the kernel's default action and ends the
      // process at once — a JavaScript handler could not run while the main thread is blocked.
      process.off("SIGTERM", begin);
      process.off("SIGINT", begin);
      if (this.started) return;
      armExitWatchdog(this.options.deadlineMs);
      this.log.info({ reason, deadlineMs: this.options.deadlineMs }, "shutting down");
      void this.run().then(() => process.exit(0));
    };
    process.on("SIGTERM", begin);
    process.on("SIGINT", begin);
    if (this.options.stopOnStdinClose) {
      process.stdin.once("close", () => begin("stdin closed"));
      process.stdin.resume();
    }
  }

  /** Runs the sequence once; later calls return the same promise. */
  run(): Promise<void> {
    this.started ??= this.sequence();
    return this.started;
  }

  private async sequence(): Promise<void> {
    this.failReadiness();
    if (this.options.drainDelayMs > 0) await new Promise((r) => setTimeout(r, this.options.drainDelayMs));
    for (const step of this.steps) {
      const began = Date.now();
      try {
        await withTimeout(Promise.resolve().then(step.run), this.options.stepTimeoutMs);
        this.log.info({ step: step.name, ms: Date.now() - began }, "shutdown step done");
      } catch (err) {
        this.log.error({ step: step.name, err }, "shutdown step failed");
      }
    }
    try {
      await withTimeout(shutdownTelemetry(), this.options.stepTimeoutMs);
    } catch (err) {
      this.log.error({ err }, "telemetry flush failed");
    }
    this.log.info("shutdown complete");
  }
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
