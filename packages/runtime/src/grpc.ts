import * as grpc from "@grpc/grpc-js";

export interface GrpcLimits {
  /** Largest message either way; audio and images travel as chunks well below this. */
  maxMessageBytes: number;
}

export const defaultGrpcLimits: GrpcLimits = { maxMessageBytes: 8 * 1024 * 1024 };

/**
 * A server with message limits, keepalive to find dead peers, and a maximum connection age so
 * that clients re-resolve DNS and spread over replicas that appeared later.
 */
export function createGrpcServer(limits: GrpcLimits = defaultGrpcLimits): grpc.Server {
  return new grpc.Server({
    "grpc.max_receive_message_length": limits.maxMessageBytes,
    "grpc.max_send_message_length": limits.maxMessageBytes,
    "grpc.keepalive_time_ms": 30_000,
    "grpc.keepalive_timeout_ms": 10_000,
    "grpc.max_connection_age_ms": 5 * 60_000,
    // Longer than the longest call (an LLM answer within its deadline).
    "grpc.max_connection_age_grace_ms": 2 * 60_000,
  });
}

/** Binds and resolves with the port actually bound (0 picks a free one); rejects on failure. */
export function bindGrpcServer(server: grpc.Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (err, bound) =>
      err ? reject(new Error(`cannot bind gRPC on ${host}:${port}: ${err.message}`, { cause: err })) : resolve(bound),
    );
  });
}

/** Lets calls in flight finish up to `graceMs`, then cancels what is left. */
export function stopGrpcServer(server: grpc.Server, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, graceMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

type ClientCtor<T> = new (address: string, credentials: grpc.ChannelCredentials, options?: grpc.ClientOptions) => T;

/**
 * A client that resolves every address behind a name (a headless Service in Kubernetes) and
 * spreads calls round-robin over them, instead of pinning one HTTP/2 connection to one pod.
 */
export function createGrpcClient<T>(Ctor: ClientCtor<T>, target: string, limits: GrpcLimits = defaultGrpcLimits): T {
  // host:port means DNS; a target with a grpc-js scheme (dns:, ipv4:a:p,b:p, unix:) is taken as it is.
  const address = /^(dns|ipv4|ipv6|unix|unix-abstract):/.test(target) ? target : `dns:///${target}`;
  return new Ctor(address, grpc.credentials.createInsecure(), {
    "grpc.service_config": JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }),
    "grpc.max_receive_message_length": limits.maxMessageBytes,
    "grpc.max_send_message_length": limits.maxMessageBytes,
    "grpc.keepalive_time_ms": 60_000,
    "grpc.keepalive_timeout_ms": 10_000,
    "grpc.dns_min_time_between_resolutions_ms": 5_000,
    "grpc.initial_reconnect_backoff_ms": 200,
    "grpc.max_reconnect_backoff_ms": 5_000,
  });
}

export function deadlineIn(ms: number): Date {
  return new Date(Date.now() + ms);
}

/**
 * A gRPC status error for a unary handler's callback, or for `call.emit("error", err)` on a
 * server stream (grpc-js sends no status for `destroy(err)`, so the client would hang).
 */
export function grpcError(code: grpc.status, details: string): grpc.ServiceError {
  return Object.assign(new Error(details), { code, details, metadata: new grpc.Metadata() });
}

export { grpc };
