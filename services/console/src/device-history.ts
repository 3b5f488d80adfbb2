import { storage } from "@hotpin/contracts";
import { unary } from "@hotpin/edge-ws/dist/pipeline/services";
import { createGrpcClient, deadlineIn } from "@hotpin/runtime";
import type { DeviceHistory, StoredSession } from "./api-types";

const STATUS: Record<number, string> = {
  [storage.SessionStatus.SESSION_STATUS_ACTIVE]: "active",
  [storage.SessionStatus.SESSION_STATUS_COMPLETED]: "completed",
  [storage.SessionStatus.SESSION_STATUS_ERROR]: "error",
};

/** What storage keeps about a device: its conversation, sessions and image thumbnails. */
export class DeviceHistoryStore {
  readonly client: storage.StorageClient;

  constructor(
    address: string,
    private readonly timeoutMs: number,
    private readonly thumbnailMaxBytes: number,
  ) {
    this.client = createGrpcClient(storage.StorageClient, address);
  }

  async history(deviceId: string, thumbnailBefore: (time: number) => string | undefined): Promise<DeviceHistory> {
    const c = this.client;
    const [turns, sessions] = await Promise.all([
      unary(c, c.recentTurns, { deviceId, limit: 0 }, this.timeoutMs),
      unary(c, c.listSessions, { deviceId, limit: 20 }, this.timeoutMs),
    ]);
    return {
      turns: turns.turns.map((t) => {
        const time = t.time?.getTime() ?? 0;
        const thumb = t.hadImage && t.role === storage.TurnRole.TURN_ROLE_USER ? thumbnailBefore(time) : undefined;
        return {
          role: t.role === storage.TurnRole.TURN_ROLE_ASSISTANT ? "assistant" : "user",
          text: t.text,
          time,
          sessionId: t.sessionId,
          hadImage: t.hadImage,
          ...(thumb ? { thumbnailBlobId: thumb } : {}),
        };
      }),
      sessions: sessions.sessions.map(
        (s): StoredSession => ({
          id: s.id,
          dialect: s.dialect,
          replica: s.edgeInstance,
          startedAt: s.startedAt?.getTime() ?? 0,
          ...(s.endedAt ? { endedAt: s.endedAt.getTime() } : {}),
          status: STATUS[s.status] ?? "unknown",
        }),
      ),
    };
  }

  /** A thumbnail's bytes; only blobs of kind image-thumbnail are handed out. */
  async thumbnail(blobId: string): Promise<{ contentType: string; data: Buffer } | undefined> {
    const call = this.client.getBlob({ id: blobId }, { deadline: deadlineIn(this.timeoutMs) });
    let info: storage.BlobInfo | undefined;
    const parts: Buffer[] = [];
    let size = 0;
    for await (const part of call as AsyncIterable<storage.GetBlobResponse>) {
      if (part.part?.$case === "info") {
        info = part.part.value;
        if (info.kind !== "image-thumbnail" || info.sizeBytes > this.thumbnailMaxBytes) {
          call.cancel();
          return undefined;
        }
      } else if (part.part?.$case === "chunk") {
        size += part.part.value.length;
        if (size > this.thumbnailMaxBytes) {
          call.cancel();
          return undefined;
        }
        parts.push(part.part.value);
      }
    }
    if (!info) return undefined;
    return { contentType: info.contentType || "image/jpeg", data: Buffer.concat(parts) };
  }

  close(): void {
    this.client.close();
  }
}
