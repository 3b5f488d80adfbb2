import type { storage } from "@hotpin/contracts";
import { grpc, grpcError, type Logger } from "@hotpin/runtime";
import type { Blobs } from "../blobs/blobs";
import type { Conversations } from "../conversations";
import type { DownloadTokens } from "../download-tokens";
import { invalid, RequestError } from "../errors";
import type { Logs } from "../logs";
import type { StorageMetrics } from "../metrics";
import type { Sessions } from "../sessions";

export interface StorageParts {
  sessions: Sessions;
  logs: Logs;
  conversations: Conversations;
  blobs: Blobs;
  tokens: DownloadTokens;
}

/** Chunk size of GetBlob responses: well under the gRPC message limit. */
const CHUNK_BYTES = 64 * 1024;

/** Maps an error to a gRPC status: refusals keep their code and message; anything else is INTERNAL, logged. */
function toStatus(err: unknown, method: string, log: Logger): grpc.ServiceError {
  if (err instanceof RequestError) return grpcError(err.code, err.message);
  if ((err as grpc.ServiceError).code !== undefined && (err as grpc.ServiceError).metadata) {
    return err as grpc.ServiceError;
  }
  log.error({ err, method }, "storage call failed");
  return grpcError(grpc.status.INTERNAL, "storage failure");
}

/** The hotpin.storage.v1.Storage implementation over the stores. */
export function storageService(parts: StorageParts, metrics: StorageMetrics, log: Logger): storage.StorageServer {
  const observe = (method: string, code: grpc.status, began: bigint) =>
    metrics.rpcSeconds.observe(
      { method, code: grpc.status[code] ?? String(code) },
      Number(process.hrtime.bigint() - began) / 1e9,
    );

  function unary<Req, Res>(method: string, fn: (req: Req) => Promise<Res>): grpc.handleUnaryCall<Req, Res> {
    return (call, callback) => {
      const began = process.hrtime.bigint();
      fn(call.request).then(
        (res) => {
          observe(method, grpc.status.OK, began);
          callback(null, res);
        },
        (err: unknown) => {
          const status = toStatus(err, method, log);
          observe(method, status.code, began);
          callback(status);
        },
      );
    };
  }

  return {
    startSession: unary("StartSession", (req) => parts.sessions.start(req)),
    endSession: unary("EndSession", (req) => parts.sessions.end(req)),
    getSession: unary("GetSession", (req) => parts.sessions.get(req)),
    listSessions: unary("ListSessions", (req) => parts.sessions.list(req)),
    appendLog: unary("AppendLog", (req) => parts.logs.append(req)),
    queryLogs: unary("QueryLogs", (req) => parts.logs.query(req)),
    appendTurn: unary("AppendTurn", async (req) => {
      await parts.conversations.append(req);
      return {};
    }),
    recentTurns: unary("RecentTurns", (req) => parts.conversations.recent(req)),
    clearConversation: unary("ClearConversation", async (req) => {
      await parts.conversations.clear(req);
      return {};
    }),
    deleteBlob: unary("DeleteBlob", async (req) => {
      await parts.blobs.delete(req.id);
      return {};
    }),
    createDownloadToken: unary("CreateDownloadToken", (req) => parts.tokens.create(req)),
    resolveDownloadToken: unary("ResolveDownloadToken", (req) => parts.tokens.resolve(req)),

    putBlob(call, callback) {
      const began = process.hrtime.bigint();
      const upload = async () => {
        const parts_ = call[Symbol.asyncIterator]() as AsyncIterator<storage.PutBlobRequest>;
        const first = await parts_.next();
        if (first.done || first.value.part?.$case !== "meta") throw invalid("the first message must be BlobMeta");
        const chunks = (async function* () {
          for (;;) {
            const next = await parts_.next();
            if (next.done) return;
            if (next.value.part?.$case !== "chunk") throw invalid("only chunks may follow BlobMeta");
            metrics.blobBytes.inc({ direction: "in" }, next.value.part.value.length);
            yield next.value.part.value;
          }
        })();
        return parts.blobs.put(first.value.part.value, chunks);
      };
      upload().then(
        (info) => {
          observe("PutBlob", grpc.status.OK, began);
          callback(null, info);
        },
        (err: unknown) => {
          const status = toStatus(err, "PutBlob", log);
          if (status.code === grpc.status.RESOURCE_EXHAUSTED) metrics.quotaRejections.inc();
          observe("PutBlob", status.code, began);
          callback(status);
        },
      );
    },

    getBlob(call) {
      const began = process.hrtime.bigint();
      const download = async () => {
        const { info, data } = await parts.blobs.open(call.request.id);
        call.write({ part: { $case: "info", value: info } });
        for await (const piece of data) {
          for (let i = 0; i < piece.length; i += CHUNK_BYTES) {
            if (call.cancelled) return;
            const chunk = Buffer.from(piece.buffer, piece.byteOffset + i, Math.min(CHUNK_BYTES, piece.length - i));
            metrics.blobBytes.inc({ direction: "out" }, chunk.length);
            // Respect the client's pace: wait for the stream to drain before writing more.
            if (!call.write({ part: { $case: "chunk", value: chunk } })) {
              await new Promise<void>((resolve) => {
                call.once("drain", resolve);
                call.once("cancelled", resolve);
              });
            }
          }
        }
      };
      download().then(
        () => {
          observe("GetBlob", grpc.status.OK, began);
          call.end();
        },
        (err: unknown) => {
          const status = toStatus(err, "GetBlob", log);
          observe("GetBlob", status.code, began);
          // grpc-js sends the status of an "error" event as the trailer (destroy() would not)
          call.emit("error", status);
        },
      );
    },
  };
}
