import { DEVICE_ID_RULE, isValidDeviceId } from "@hotpin/runtime";
import { type Grant, grantCovers } from "../auth";
import { retryPolicy } from "../pipeline/retry";
import { CLOSE_CODES } from "../transport";
import type { Recorder } from "./recording";
import type { ServerTurns } from "./server-turns";
import type { Session } from "./session";
import type { SessionCore } from "./session-core";
import { WakeWords } from "./wake-words";

/** What identifying a device touches besides the session's core. */
export interface IdentifyParts {
  grant: Grant;
  /** Who holds the device in the registry: the session. */
  claimant: Session;
  recorder: Recorder;
  serverTurns: ServerTurns | undefined;
}

/**
 * The device says who it is (its hello, or the URL): the id is checked and covered by the
 * token, the device claimed (a connection it had is replaced), spotting started, the device told
 * (`connected` once the event is stored), and asked to record again when its last connection
 * ended mid-recording. A bad id or a token for another device closes the connection.
 */
export function identify(core: SessionCore, deviceId: string, parts: IdentifyParts): void {
  if (!isValidDeviceId(deviceId)) {
    // Dialects and the URL check already; an id reaching subjects, keys or storage is never unchecked.
    core.protocolError("bad_device_id", `a device id must be ${DEVICE_ID_RULE}`);
    core.hangUp("policy", "bad device id", CLOSE_CODES.policy, "bad device id");
    return;
  }
  if (!grantCovers(parts.grant, deviceId)) {
    core.emit({ type: "refused", reason: "wrong_device" });
    core.protocolError("unauthorized", "the token is not valid for this device");
    core.hangUp("unauthorized", "token not valid for this device");
    return;
  }
  const { devices } = core.deps;
  core.deviceId = deviceId;
  core.log.info({ device: deviceId }, "device connected");
  devices.claim(deviceId, parts.claimant);
  core.emit({ type: "connected", remoteAddress: core.transport.remoteAddress });
  core.state = core.next("identified"); // announced by `connected` and the state below
  if (parts.serverTurns) parts.serverTurns.spotWith(wakeWords(core, deviceId));
  core.userMoves("identified");
  void core.sendConfirmed({ type: "connected", deviceId, sessionId: core.id });
  core.sendState();
  if (devices.takeInterrupted(deviceId)) parts.recorder.rerecord("disconnected");
}

/** Spotting runs where the server takes the turns (a device that detects its own says `detect`). */
function wakeWords(core: SessionCore, deviceId: string): WakeWords | undefined {
  const { cfg, services, events } = core.deps;
  if (cfg.wakeWords === "off") return undefined;
  return new WakeWords({
    mode: cfg.wakeWords,
    windowMs: cfg.wakeWindowMs,
    graceMs: cfg.wakeGraceMs,
    stt: services.stt,
    deviceId,
    sessionId: core.id,
    events,
    retry: retryPolicy(cfg),
    log: core.log,
    onHeard: () => core.emit({ type: "server_wake_word" }),
  });
}
