import type { Grant } from "../auth";
import type { DialectContext, DialectModule } from "../dialects/dialect";
import type { DialectRegistry } from "../dialects/registry";
import type { Transport } from "../transport";
import { Session, type SessionDeps } from "./session";

/** The dialect a path or a listener of its own names, or how to detect it on a shared endpoint. */
export type DialectChoice = DialectModule | { registry: DialectRegistry; url: URL };

export interface ConnectionOptions {
  transport: Transport;
  grant: Grant;
  dialect: DialectChoice;
  /** A device the connection already names (spec `?session=`, a route's device token): identified at once. */
  deviceId?: string;
  /** What the dialect is created with besides the server's own (DAP1: the device id of its address). */
  context?: Pick<DialectContext, "deviceId">;
  /** A connection whose device has not said who it is by then is closed (`no_handshake`). */
  handshakeMs: number;
  /** The device said who it is. */
  onIdentified?(): void;
}

/**
 * One device connection from the moment its transport is handed over: the only consumer of what
 * the transport receives. It chooses the dialect (named, by the URL, by the first frame, or the
 * registry's `whenSilent` after HOTPIN_EDGE_DETECT_MS of silence: docs/protocols/hotpin-spec.md,
 * detection), opens the session, hands it every message, and ends it with the transport.
 */
export class Connection {
  private current: Session | undefined;
  private identified = false;

  constructor(
    private readonly deps: SessionDeps,
    private readonly opts: ConnectionOptions,
  ) {
    const { transport, dialect } = opts;
    const { cfg, log, metrics } = deps;
    const named = "registry" in dialect ? dialect.registry.fromUrl(dialect.url) : dialect;
    let detect: NodeJS.Timeout | undefined;
    if (named) {
      this.open(named).start(opts.deviceId);
      this.checkIdentified();
    } else if ("registry" in dialect) {
      // A spec client may wait for `ready` before saying anything: after a short wait, greet it.
      // When the loop was busy for longer than the wait (a connect storm), the timer runs before
      // the socket's frames that arrived meanwhile are read. A timer set from a timer runs in the
      // loop's next turn, after this turn's I/O: greet only once those frames had their say. Both
      // timers are `detect`, so the close below clears whichever is pending.
      detect = setTimeout(() => {
        detect = setTimeout(() => {
          if (!this.current) this.open(dialect.registry.whenSilent).greet();
        }, 0);
      }, cfg.detectMs);
    }
    const handshake = setTimeout(() => {
      if (this.current?.deviceId) return;
      log.info({ remote: transport.remoteAddress }, "no handshake");
      metrics.refused.inc({ reason: "no_handshake" });
      transport.close("no_handshake", "no handshake");
    }, opts.handshakeMs);

    transport.onMessage((data, isBinary) => {
      let session = this.current;
      if (!session && "registry" in dialect) {
        clearTimeout(detect);
        const detected = dialect.registry.fromFirstFrame(data, isBinary);
        if (!detected) {
          metrics.protocolErrors.inc({ code: "bad_message" });
          transport.sendText(
            JSON.stringify({ type: "error", status: "error", code: "bad_message", message: "expected a handshake" }),
          );
          transport.close("policy", "expected a handshake");
          return;
        }
        session = this.open(detected);
      }
      try {
        if (isBinary) session?.binary(data);
        else session?.text(data.toString("utf8"));
        this.checkIdentified();
      } catch (err) {
        // A bug must cost one connection, never the process.
        log.error({ err }, "session failed");
        transport.close("internal", "internal error");
      }
    });
    void transport.closed().then(({ code, reason }) => {
      clearTimeout(detect);
      clearTimeout(handshake);
      const session = this.current;
      if (!session) return;
      metrics.connections.dec({ dialect: session.dialect.name });
      session.end(code, reason);
    });
  }

  /** Undefined until the dialect is known. */
  get session(): Session | undefined {
    return this.current;
  }

  private open(module: DialectModule): Session {
    const { cfg, apologies, metrics } = this.deps;
    const { transport, grant, context } = this.opts;
    const dialect = module.create(transport, { cfg, speech: apologies, ...context });
    this.current = new Session(this.deps, dialect, transport, grant);
    metrics.connections.inc({ dialect: module.name });
    return this.current;
  }

  private checkIdentified(): void {
    if (this.identified || !this.current?.deviceId) return;
    this.identified = true;
    this.opts.onIdentified?.();
  }
}
