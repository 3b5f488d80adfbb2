import { isConnected } from "@hotpin/runtime";
import { type ObjectStore, Objm } from "@nats-io/obj";
import type { NatsConnection } from "@nats-io/transport-node";
import type { BlobBackend } from "./backend";

export interface NatsBlobOptions {
  bucket: string;
  /** The bucket's own age limit: a backstop for objects whose metadata row was lost. */
  maxAgeMs: number;
  replicas: number;
}

/** Blobs in a JetStream object store bucket: every replica sees them, with a bucket-wide age limit. */
export class NatsObjectBlobs implements BlobBackend {
  readonly name = "nats";

  private constructor(
    private readonly nc: NatsConnection,
    private readonly store: ObjectStore,
  ) {}

  static async open(nc: NatsConnection, opts: NatsBlobOptions): Promise<NatsObjectBlobs> {
    const store = await new Objm(nc).create(opts.bucket, {
      ttl: opts.maxAgeMs * 1_000_000,
      replicas: opts.replicas,
    });
    return new NatsObjectBlobs(nc, store);
  }

  async put(id: string, data: AsyncIterable<Uint8Array>): Promise<void> {
    const iterator = data[Symbol.asyncIterator]();
    // A pull-based stream: the next chunk is read from the caller only when the store wants it.
    const rs = new ReadableStream<Uint8Array>({
      async pull(controller) {
        try {
          const next = await iterator.next();
          if (next.done) controller.close();
          else controller.enqueue(next.value);
        } catch (err) {
          controller.error(err);
        }
      },
      async cancel() {
        await iterator.return?.();
      },
    });
    try {
      await this.store.put({ name: id }, rs);
    } catch (err) {
      await this.delete(id).catch(() => {});
      throw err;
    }
  }

  async get(id: string): Promise<AsyncIterable<Uint8Array> | undefined> {
    const result = await this.store.get(id);
    if (!result) return undefined;
    const reader = result.data.getReader();
    return (async function* () {
      try {
        while (true) {
          const { done, value } = await reader.read();
          if (done) break;
          yield value;
        }
        const err = await result.error;
        if (err) throw err;
      } finally {
        reader.releaseLock();
      }
    })();
  }

  async delete(id: string): Promise<void> {
    try {
      await this.store.delete(id);
    } catch (err) {
      // Deleting an object that is already gone is success.
      if (!/not found/i.test((err as Error).message)) throw err;
    }
  }

  async check(): Promise<true | string> {
    return isConnected(this.nc) ? true : "nats disconnected";
  }
}
