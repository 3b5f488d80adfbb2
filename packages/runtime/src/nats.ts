import { connect, headers, type MsgHdrs, type NatsConnection } from "@nats-io/transport-node";
import { type Context, context, propagation, ROOT_CONTEXT } from "@opentelemetry/api";
import type { Logger } from "pino";
import { Gauge, type Registry } from "prom-client";

export interface NatsOptions {
  servers: string | string[];
  /** Shown in the server's connection list, e.g. "edge-ws@host". */
  name: string;
  log: Logger;
  token?: string;
  /** A user of the server's `authorization.users`, with the subjects that service needs. */
  user?: string;
  pass?: string;
  /** When given, `hotpin_nats_connected` (1 connected, 0 not) is exported on it. */
  registry?: Registry;
}

/**
 * Connects and stays connected: reconnects forever with jitter, and waits for a server that
 * is not up yet instead of failing start-up. Status changes are logged; readiness should ask
 * `isConnected(nc)`.
 */
export async function connectNats(opts: NatsOptions): Promise<NatsConnection> {
  let connected: NatsConnection | undefined;
  if (opts.registry) {
    new Gauge({
      name: "hotpin_nats_connected",
      help: "1 while the NATS connection is up, 0 while connecting, reconnecting or closed",
      registers: [opts.registry],
      collect() {
        this.set(connected && isConnected(connected) ? 1 : 0);
      },
    });
  }
  const nc = await connect({
    servers: opts.servers,
    name: opts.name,
    ...(opts.token ? { token: opts.token } : {}),
    ...(opts.user ? { user: opts.user, pass: opts.pass ?? "" } : {}),
    maxReconnectAttempts: -1,
    reconnectTimeWait: 1000,
    reconnectJitter: 500,
    waitOnFirstConnect: true,
    pingInterval: 10_000,
    maxPingOut: 3,
    // Otherwise every request (a JetStream publish, a KV read) captures a stack trace or two,
    // for the rare error that would show where it was asked: a cost per event and per device.
    noAsyncTraces: true,
  });
  opts.log.info({ server: nc.getServer() }, "nats connected");
  reachable.set(nc, true);
  connected = nc;
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === "ping") continue;
      if (status.type === "disconnect") reachable.set(nc, false);
      if (status.type === "reconnect") reachable.set(nc, true);
      const level = status.type === "disconnect" || status.type === "error" ? "warn" : "info";
      opts.log[level]({ status: status.type }, "nats status");
    }
  })();
  return nc;
}

// The client reports disconnects only as status events; remember the last one per connection.
const reachable = new WeakMap<NatsConnection, boolean>();

/** For health checks: connected now, not closing. */
export function isConnected(nc: NatsConnection): boolean {
  return !nc.isClosed() && !nc.isDraining() && reachable.get(nc) === true;
}

/** Puts the trace context of `ctx` (default: the active one) into NATS headers (W3C traceparent). */
export function injectTrace(into: MsgHdrs = headers(), ctx: Context = context.active()): MsgHdrs {
  propagation.inject(ctx, into, { set: (carrier, key, value) => carrier.set(key, value) });
  return into;
}

/** The trace context carried by a NATS message's headers, to parent the consumer's span. */
export function extractTrace(from: MsgHdrs | undefined): Context {
  if (!from) return ROOT_CONTEXT;
  return propagation.extract(ROOT_CONTEXT, from, {
    // MsgHdrs.get answers "" for a missing key; propagators expect undefined.
    get: (carrier, key) => carrier.get(key) || undefined,
    keys: (carrier) => carrier.keys(),
  });
}
