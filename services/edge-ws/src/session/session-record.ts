import { storage } from "@hotpin/contracts";
import type { Logger } from "@hotpin/runtime";
import type { EdgeConfig } from "../config";
import { type Services, unary } from "../pipeline/services";
import { closeKind, type FactListener, type TelemetryIds } from "./telemetry";

/**
 * The storage service's record of a session: started when the device identifies itself, ended
 * (completed or error, by the close code) when it goes. Best effort: a device is never kept
 * waiting for it.
 */
export function sessionRecord(
  services: Services,
  cfg: Pick<EdgeConfig, "instance" | "storageTimeoutMs">,
  ids: TelemetryIds,
  log: Logger,
): FactListener {
  return (fact) => {
    const deviceId = ids.deviceId;
    if (!deviceId) return;
    if (fact.type === "connected") {
      const started = {
        id: ids.sessionId,
        deviceId,
        dialect: ids.dialect,
        startedAt: new Date(),
        edgeInstance: cfg.instance,
      };
      void unary(services.storage, services.storage.startSession, started, cfg.storageTimeoutMs).catch((err) =>
        log.warn({ err: (err as Error).message }, "storage session not recorded"),
      );
    } else if (fact.type === "disconnected") {
      const { SESSION_STATUS_COMPLETED, SESSION_STATUS_ERROR } = storage.SessionStatus;
      const status = closeKind(fact.code).clean ? SESSION_STATUS_COMPLETED : SESSION_STATUS_ERROR;
      const ended = { id: ids.sessionId, status, notes: "", endedAt: new Date() };
      void unary(services.storage, services.storage.endSession, ended, cfg.storageTimeoutMs).catch(() => undefined);
    }
  };
}
