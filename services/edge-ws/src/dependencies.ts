import { Metadata } from "@grpc/grpc-js";
import { health } from "@hotpin/contracts";
import { type Check, createGrpcClient, deadlineIn } from "@hotpin/runtime";

/**
 * Readiness of a gRPC dependency through its grpc.health.v1 service, cached briefly so that
 * frequent probes do not turn into a stream of calls.
 */
export function grpcDependencyCheck(address: string, cacheMs = 2_000): { check: Check; close(): void } {
  const client = createGrpcClient(health.HealthClient, address);
  let last: { at: number; result: true | string } | undefined;
  const check: Check = () => {
    if (last && Date.now() - last.at < cacheMs) return last.result;
    return new Promise((resolve) => {
      client.check({ service: "" }, new Metadata(), { deadline: deadlineIn(1_000) }, (err, res) => {
        const result: true | string = err
          ? `unreachable (${err.code})`
          : res.status === health.HealthCheckResponse_ServingStatus.SERVING
            ? true
            : "not serving";
        last = { at: Date.now(), result };
        resolve(result);
      });
    });
  };
  return { check, close: () => client.close() };
}
