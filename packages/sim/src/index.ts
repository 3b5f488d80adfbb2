export { AckWindow } from "./ack-window";
export { type BackoffOptions, backoffDelayMs, DEFAULT_BACKOFF } from "./backoff";
export { DAP1_MAX_REPLY_BYTES, type Dap1DeviceOptions, type Dap1Result, runDap1Device } from "./dap1-device";
export {
  AuthRejectedError,
  ConnectionDroppedError,
  type ErrorInfo,
  ProtocolError,
  ServerTimeoutError,
  SimError,
  type SimErrorKind,
} from "./errors";
export { checkReplyWav, FirmwareWavReceiver } from "./reply-wav";
export { runDevice } from "./run-device";
export { type FleetOptions, type FleetResult, fleetDeviceId, runFleet } from "./run-fleet";
export {
  runSesameDevice,
  type SesameDeviceOptions,
  type SesameResult,
  type SesameTurnResult,
} from "./sesame-device";
export { FIRMWARE_DEFAULTS, SPEC_CHUNK_BYTES } from "./settings";
export { chunkPcm, loadSpeech, speechFromBytes } from "./speech-input";
export { type Percentiles, percentiles } from "./stats";
export type { Pacing } from "./stream-audio";
export { formatEvent, type TimelineEvent } from "./timeline";
export type { DeviceOptions, DeviceResult, Dialect, UtteranceOutcome, UtteranceResult } from "./types";
export {
  runXiaozhiDevice,
  type XiaozhiDeviceOptions,
  type XiaozhiResult,
  type XiaozhiTurn,
  type XiaozhiTurnResult,
} from "./xiaozhi-device";
