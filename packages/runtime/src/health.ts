import { health } from "@hotpin/contracts";
import { type grpc, grpcError } from "./grpc";

const { HealthCheckResponse_ServingStatus: Status } = health;

/** A dependency check: true when usable, otherwise a short reason for logs and /readyz. */
export type Check = () => true | string | Promise<true | string>;

export interface HealthReport {
  serving: boolean;
  problems: string[];
  /** State of dependencies this process serves without (reported, never failing readiness). */
  dependencies?: Record<string, true | string>;
}

/**
 * Health that reflects real dependencies: SERVING only while every registered check passes
 * and the process is not draining. Serves grpc.health.v1 (Check and Watch) for the overall
 * status ("") and for each named gRPC service of the process.
 */
export class Health {
  private readonly checks = new Map<string, Check>();
  private readonly dependencies = new Map<string, Check>();
  private draining = false;

  constructor(private readonly services: string[] = []) {}

  addCheck(name: string, check: Check): void {
    this.checks.set(name, check);
  }

  /**
   * A dependency the process can serve without (with apologies): its state is reported in
   * /readyz details and to metrics, but it never makes this process unready, so one sick
   * downstream does not take every replica out of the load balancer.
   */
  addDependency(name: string, check: Check): void {
    this.dependencies.set(name, check);
  }

  /** Each informational dependency's state now. */
  async dependencyStates(): Promise<Record<string, true | string>> {
    const states: Record<string, true | string> = {};
    for (const [name, check] of this.dependencies) states[name] = await run(check);
    return states;
  }

  /** Fails readiness for good: the first step of shutdown. */
  drain(): void {
    this.draining = true;
  }

  /** True once shutdown began. */
  get isDraining(): boolean {
    return this.draining;
  }

  /** Each check's result now, by name (for the health gauges on /metrics). */
  async results(): Promise<Map<string, boolean>> {
    const out = new Map<string, boolean>();
    for (const [name, check] of this.checks) {
      // A check that throws (at once or later) is failing, as in report().
      const ok = await Promise.resolve()
        .then(check)
        .then(
          (r) => r === true,
          () => false,
        );
      out.set(name, ok);
    }
    return out;
  }

  async report(): Promise<HealthReport> {
    if (this.draining) return { serving: false, problems: ["shutting down"] };
    const problems: string[] = [];
    for (const [name, check] of this.checks) {
      const result = await run(check);
      if (result !== true) problems.push(`${name}: ${result}`);
    }
    if (this.dependencies.size === 0) return { serving: problems.length === 0, problems };
    return { serving: problems.length === 0, problems, dependencies: await this.dependencyStates() };
  }

  /** The grpc.health.v1.Health implementation. Watch re-evaluates every `watchMs`. */
  grpcService(watchMs = 5_000): health.HealthServer {
    const known = (service: string) => service === "" || this.services.includes(service);
    const status = async () => ((await this.report()).serving ? Status.SERVING : Status.NOT_SERVING);
    return {
      check: (call, callback) => {
        if (!known(call.request.service)) {
          callback(grpcError(5 /* NOT_FOUND */, "unknown service"));
          return;
        }
        status().then((s) => callback(null, { status: s }), callback);
      },
      watch: (call: grpc.ServerWritableStream<health.HealthCheckRequest, health.HealthCheckResponse>) => {
        let last: health.HealthCheckResponse_ServingStatus | undefined;
        const send = async () => {
          const s = known(call.request.service) ? await status() : Status.SERVICE_UNKNOWN;
          if (s !== last && !call.cancelled) {
            last = s;
            call.write({ status: s });
          }
        };
        void send();
        const timer = setInterval(() => void send(), watchMs);
        call.on("cancelled", () => clearInterval(timer));
        call.on("close", () => clearInterval(timer));
      },
    };
  }
}

async function run(check: Check): Promise<true | string> {
  try {
    return await check();
  } catch (err) {
    return (err as Error).message;
  }
}
