import WebSocket from "ws";
import { AuthRejectedError, ConnectionDroppedError, ProtocolError, ServerTimeoutError, type SimError } from "./errors";
import { summarizeBinary, summarizeText, type Timeline } from "./timeline";

export type JsonMessage = Record<string, unknown>;

export type Incoming =
  | { kind: "text"; at: number; raw: string; msg: JsonMessage }
  | { kind: "binary"; at: number; data: Buffer };

type Queued = Incoming | { kind: "fault"; error: SimError };

export interface OpenOptions {
  headers?: Record<string, string>;
  timeoutMs: number;
  timeline: Timeline;
  /** Largest frame the device accepts; the firmware's buffers are far smaller than ws's 100 MiB default. */
  maxPayload?: number;
}

/**
 * A device's WebSocket: frames are queued in arrival order with their arrival time, so the dialect
 * code reads the server like a device does (next frame, with a timeout) and ACK latency is measured
 * when the ACK arrived rather than when the code got round to it.
 */
export class DeviceSocket {
  private readonly queue: Queued[] = [];
  private wake?: () => void;
  private dropped?: SimError;
  private closing = false;

  private constructor(
    private readonly ws: WebSocket,
    private readonly timeline: Timeline,
  ) {
    ws.on("message", (data: Buffer, isBinary: boolean) => this.receive(data, isBinary));
    ws.on("close", (code: number, reason: Buffer) => {
      if (!this.closing) {
        this.dropped = new ConnectionDroppedError(
          `connection closed by server (code ${code}${reason.length ? `, ${reason}` : ""})`,
        );
        timeline.add("note", `closed by server, code ${code}${reason.length ? ` ${reason}` : ""}`);
      }
      this.notify();
    });
    ws.on("error", (err) => {
      this.dropped ??= new ConnectionDroppedError(`connection error: ${err.message}`, { cause: err });
      this.notify();
    });
  }

  static open(url: string, opts: OpenOptions): Promise<DeviceSocket> {
    const shown = url.replace(/([?&]token=)[^&]*/, "$1***");
    opts.timeline.add("note", `connect ${shown}`);
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, {
        headers: opts.headers,
        handshakeTimeout: opts.timeoutMs,
        maxPayload: opts.maxPayload ?? 1 << 20,
      });
      let status: number | undefined;
      ws.once("unexpected-response", (_req, res) => {
        status = res.statusCode;
        res.resume();
        ws.terminate();
      });
      const onError = (err: Error) => {
        ws.removeListener("open", onOpen);
        if (status === 401 || status === 403) reject(new AuthRejectedError(status));
        else if (status !== undefined) reject(new ConnectionDroppedError(`upgrade refused with HTTP ${status}`));
        else reject(new ConnectionDroppedError(`cannot connect: ${err.message}`, { cause: err }));
      };
      const onOpen = () => {
        ws.removeListener("error", onError);
        opts.timeline.add("note", "connected");
        resolve(new DeviceSocket(ws, opts.timeline));
      };
      ws.once("error", onError);
      ws.once("open", onOpen);
    });
  }

  private receive(data: Buffer, isBinary: boolean): void {
    const at = this.timeline.now();
    if (isBinary) {
      this.timeline.add("in", summarizeBinary(data.length), at);
      this.queue.push({ kind: "binary", at, data });
    } else {
      const raw = data.toString("utf8");
      this.timeline.add("in", summarizeText(raw), at);
      let msg: unknown;
      try {
        msg = JSON.parse(raw);
      } catch {
        this.queue.push({
          kind: "fault",
          error: new ProtocolError(`malformed JSON from server: ${summarizeText(raw, 80)}`),
        });
        this.notify();
        return;
      }
      if (typeof msg !== "object" || msg === null || Array.isArray(msg)) {
        this.queue.push({
          kind: "fault",
          error: new ProtocolError(`server text frame is not a JSON object: ${summarizeText(raw, 80)}`),
        });
      } else {
        this.queue.push({ kind: "text", at, raw, msg: msg as JsonMessage });
      }
    }
    this.notify();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  /** The next queued frame, or undefined when none has arrived; throws if the connection dropped. */
  poll(): Incoming | undefined {
    const item = this.queue.shift();
    if (item?.kind === "fault") throw item.error;
    if (item) return item;
    if (this.dropped) throw this.dropped;
    return undefined;
  }

  /** Waits for the next frame; `waitingFor` names it in the timeout error. */
  async next(timeoutMs: number, waitingFor: string): Promise<Incoming> {
    const deadline = this.timeline.now() + timeoutMs;
    for (;;) {
      const item = this.poll();
      if (item) return item;
      const left = deadline - this.timeline.now();
      if (left <= 0) throw new ServerTimeoutError(`no ${waitingFor} from server within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  async sendJson(msg: JsonMessage): Promise<void> {
    const raw = JSON.stringify(msg);
    this.timeline.add("out", summarizeText(raw));
    await this.send(raw);
  }

  async sendBinary(data: Buffer): Promise<void> {
    this.timeline.add("out", summarizeBinary(data.length));
    await this.send(data);
  }

  private send(data: string | Buffer): Promise<void> {
    if (this.dropped) return Promise.reject(this.dropped);
    if (this.ws.readyState !== WebSocket.OPEN)
      return Promise.reject(new ConnectionDroppedError("connection is not open"));
    return new Promise((resolve, reject) => {
      this.ws.send(data, (err) => {
        if (err) reject(this.dropped ?? new ConnectionDroppedError(`send failed: ${err.message}`, { cause: err }));
        else resolve();
      });
    });
  }

  /** Closes the connection normally (the device is done) and waits for the close to finish. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.ws.terminate();
        resolve();
      }, 1000);
      this.ws.once("close", () => {
        clearTimeout(timer);
        resolve();
      });
      if (this.dropped) this.ws.terminate();
      else this.ws.close(1000, "done");
    });
  }
}
