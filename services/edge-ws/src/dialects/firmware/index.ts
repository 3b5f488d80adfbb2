import type { DialectModule } from "../dialect";
import { FIRMWARE_CAPABILITIES, FirmwareDialect } from "./dialect";

export { FIRMWARE_FRAME_BYTES, NOT_UNDERSTOOD } from "./dialect";

/** HotPin firmware (docs/protocols/hotpin-firmware.md): its first frame is `{"session_id":...}`. */
export const firmware: DialectModule = {
  name: "firmware",
  capabilities: FIRMWARE_CAPABILITIES,
  detect: { firstMessage: (msg) => "session_id" in msg && !("type" in msg) },
  create: (transport) => new FirmwareDialect(transport),
};
