import type { storage } from "@hotpin/contracts";
import { deadlineIn } from "@hotpin/runtime";
import { type Services, unary } from "./services";

const PART_BYTES = 64 * 1024;

/** Stores bytes through storage's PutBlob stream (meta first, then 64 KiB chunks). */
export function putBlob(services: Services, meta: storage.BlobMeta, data: Buffer, timeoutMs: number) {
  return new Promise<storage.BlobInfo>((resolve, reject) => {
    const call = services.storage.putBlob({ deadline: deadlineIn(timeoutMs) }, (err, res) =>
      err ? reject(err) : resolve(res),
    );
    call.write({ part: { $case: "meta", value: meta } });
    for (let at = 0; at < data.length; at += PART_BYTES) {
      call.write({ part: { $case: "chunk", value: data.subarray(at, at + PART_BYTES) } });
    }
    call.end();
  });
}

/** A whole blob's bytes and info; refuses one larger than maxBytes. */
export async function getBlob(
  services: Services,
  id: string,
  timeoutMs: number,
  maxBytes: number,
): Promise<{ info: storage.BlobInfo; data: Buffer }> {
  const call = services.storage.getBlob({ id }, { deadline: deadlineIn(timeoutMs) });
  let info: storage.BlobInfo | undefined;
  const parts: Buffer[] = [];
  let size = 0;
  let complete = false;
  try {
    for await (const part of call as AsyncIterable<storage.GetBlobResponse>) {
      if (part.part?.$case === "info") info = part.part.value;
      else if (part.part?.$case === "chunk") {
        size += part.part.value.length;
        if (size > maxBytes) throw new Error(`blob larger than ${maxBytes} bytes`);
        parts.push(part.part.value);
      }
    }
    complete = true;
  } finally {
    // Leaving early (too large, a bad part, an error) must end the call, not leave it to its deadline.
    if (!complete) call.cancel();
  }
  if (!info) throw new Error("blob stream without info");
  return { info, data: Buffer.concat(parts) };
}

export async function deleteBlob(services: Services, id: string, timeoutMs: number): Promise<void> {
  await unary(services.storage, services.storage.deleteBlob, { id }, timeoutMs);
}
