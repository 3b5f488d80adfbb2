import type { IncomingMessage } from "node:http";
import busboy from "busboy";
import { UploadError } from "./upload-error";

export interface Upload {
  /** The device id, from `?session=` or the multipart `session` field. */
  deviceId: string | undefined;
  data: Buffer;
  /** Which form the device used: multipart (firmware) or a raw body (spec). */
  form: "multipart" | "raw";
}

/** Room for the multipart framing and the session field around the file. */
const MULTIPART_OVERHEAD = 16 * 1024;
/** A device id is at most 128 characters; a longer field is refused, not cut. */
const MAX_SESSION_CHARS = 129;

/**
 * Reads an image upload in either device form, never holding more than `maxBytes` of file:
 * multipart/form-data with a `session` field and a `file` part (firmware, docs/protocols/
 * hotpin-firmware.md), or `?session=` with a raw body (spec, docs/protocols/hotpin-spec.md). A declared or streamed size beyond the
 * cap is refused as soon as it is known.
 */
export function readUpload(req: IncomingMessage, url: URL, maxBytes: number, timeoutMs: number): Promise<Upload> {
  const querySession = url.searchParams.get("session") ?? undefined;
  const declared = Number(req.headers["content-length"]);
  const isMultipart = /^multipart\/form-data/i.test(req.headers["content-type"] ?? "");
  if (Number.isFinite(declared) && declared > maxBytes + (isMultipart ? MULTIPART_OVERHEAD : 0)) {
    return Promise.reject(new UploadError("too_large", `images are limited to ${maxBytes} bytes`));
  }
  const reading = isMultipart ? readMultipart(req, querySession, maxBytes) : readRaw(req, querySession, maxBytes);
  return settleOnAbortOrDeadline(req, reading, timeoutMs);
}

/**
 * The reading settles whatever the client does: a request that is aborted, reset or closed
 * before its body ended rejects at once, and one slower than `timeoutMs` rejects with
 * `timeout` (answered, then the connection is closed). Without this a parser waits forever for a body that
 * never comes, and the upload slot it holds is never given back.
 */
function settleOnAbortOrDeadline(req: IncomingMessage, reading: Promise<Upload>, timeoutMs: number): Promise<Upload> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      finish();
      reject(new UploadError("timeout", `the upload took longer than ${timeoutMs} ms`));
    }, timeoutMs);
    const onClose = () => {
      if (req.complete) return;
      finish();
      reject(new UploadError("bad_request", "the upload was interrupted"));
    };
    const onError = (err: Error) => {
      finish();
      reject(new UploadError("bad_request", "the upload was interrupted", { cause: err }));
    };
    const finish = () => {
      clearTimeout(timer);
      req.off("close", onClose);
      req.off("aborted", onClose);
      req.off("error", onError);
    };
    req.on("close", onClose);
    req.on("aborted", onClose);
    req.on("error", onError);
    reading.then(
      (upload) => {
        finish();
        resolve(upload);
      },
      (err: unknown) => {
        finish();
        reject(err);
      },
    );
  });
}

function readRaw(req: IncomingMessage, deviceId: string | undefined, maxBytes: number): Promise<Upload> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        req.off("data", onData);
        parts.length = 0;
        reject(new UploadError("too_large", `images are limited to ${maxBytes} bytes`));
        return;
      }
      parts.push(chunk);
    };
    req.on("data", onData);
    req.once("end", () => {
      if (size === 0) reject(new UploadError("missing_file", "the request has no body"));
      else if (size <= maxBytes) resolve({ deviceId, data: Buffer.concat(parts), form: "raw" });
    });
    req.once("error", (err) => reject(new UploadError("bad_request", "the upload was interrupted", { cause: err })));
  });
}

function readMultipart(req: IncomingMessage, querySession: string | undefined, maxBytes: number): Promise<Upload> {
  return new Promise((resolve, reject) => {
    let bb: busboy.Busboy;
    try {
      bb = busboy({
        headers: req.headers,
        limits: { fileSize: maxBytes, files: 1, fields: 8, fieldSize: MAX_SESSION_CHARS, parts: 10 },
      });
    } catch (err) {
      reject(new UploadError("bad_request", "malformed multipart request", { cause: err }));
      return;
    }
    let fieldSession: string | undefined;
    let file: Buffer | undefined;
    let failed: UploadError | undefined;
    const fail = (e: UploadError) => {
      if (failed) return;
      failed = e;
      req.unpipe(bb);
      reject(e);
    };
    bb.on("field", (name, value, info) => {
      if (name !== "session") return;
      if (info.valueTruncated) fail(new UploadError("bad_device_id", "the session field is too long"));
      else fieldSession = value;
    });
    bb.on("file", (name, stream) => {
      // A body that ends inside a part errors that part's stream too: unheard, it crashed the process.
      stream.on("error", (err) => fail(new UploadError("bad_request", "malformed multipart request", { cause: err })));
      if (name !== "file" && name !== "image") {
        stream.resume();
        return;
      }
      const parts: Buffer[] = [];
      stream.on("data", (chunk: Buffer) => parts.push(chunk));
      stream.on("limit", () => {
        parts.length = 0;
        fail(new UploadError("too_large", `images are limited to ${maxBytes} bytes`));
      });
      stream.on("close", () => {
        if (!failed) file = Buffer.concat(parts);
      });
    });
    bb.on("error", (err) => fail(new UploadError("bad_request", "malformed multipart request", { cause: err })));
    bb.on("close", () => {
      if (failed) return;
      if (!file || file.length === 0) return reject(new UploadError("missing_file", "no file part named file"));
      if (querySession && fieldSession && querySession !== fieldSession) {
        return reject(new UploadError("session_mismatch", "session in the URL and the form differ"));
      }
      resolve({ deviceId: querySession ?? fieldSession, data: file, form: "multipart" });
    });
    req.pipe(bb);
  });
}
