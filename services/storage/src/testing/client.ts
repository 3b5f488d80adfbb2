import type { storage } from "@hotpin/contracts";
import type { grpc } from "@hotpin/runtime";

type Callback<Res> = (err: grpc.ServiceError | null, res: Res) => void;

/** A unary call as a promise: `await call(client, "getSession", { id })`. */
export function call<K extends keyof storage.StorageClient, Req, Res>(
  client: storage.StorageClient,
  method: K,
  req: Req,
): Promise<Res> {
  return new Promise((resolve, reject) => {
    const fn = client[method] as unknown as (req: Req, cb: Callback<Res>) => unknown;
    fn.call(client, req, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

/** Uploads `data` in chunks of `chunk` bytes. */
export function putBlob(
  client: storage.StorageClient,
  meta: Partial<storage.BlobMeta>,
  data: Buffer,
  chunk = 16 * 1024,
): Promise<storage.BlobInfo> {
  return new Promise((resolve, reject) => {
    const stream = client.putBlob((err, info) => (err ? reject(err) : resolve(info)));
    stream.on("error", () => {});
    stream.write({
      part: {
        $case: "meta",
        value: { deviceId: "", contentType: "", kind: "", ttlSeconds: 0, sessionId: "", ...meta },
      },
    });
    for (let i = 0; i < data.length; i += chunk) {
      stream.write({ part: { $case: "chunk", value: data.subarray(i, i + chunk) } });
    }
    stream.end();
  });
}

export async function getBlob(
  client: storage.StorageClient,
  id: string,
): Promise<{ info: storage.BlobInfo | undefined; data: Buffer }> {
  let info: storage.BlobInfo | undefined;
  const parts: Buffer[] = [];
  for await (const res of client.getBlob({ id }) as AsyncIterable<storage.GetBlobResponse>) {
    if (res.part?.$case === "info") info = res.part.value;
    else if (res.part?.$case === "chunk") parts.push(res.part.value);
  }
  return { info, data: Buffer.concat(parts) };
}

/** Polls `probe` until it returns a value, without a fixed sleep in the assertion; fails after `timeoutMs`. */
export async function waitFor<T>(
  probe: () => Promise<T | undefined>,
  timeoutMs = 10_000,
  what = "condition",
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
