import type { DialectModule } from "../dialect";
import { DAP1_CAPABILITIES, Dap1Dialect } from "./dialect";

export { DAP1_MAX_REPLY_BYTES, errorTone } from "./dialect";

/** DAWN DAP1 (docs/protocols/dap1.md): its own TCP listener, so nothing to detect. */
export const dap1: DialectModule = {
  name: "dap1",
  capabilities: DAP1_CAPABILITIES,
  detect: {},
  create: (transport, { cfg, speech, deviceId }) => {
    if (!deviceId) throw new Error("a DAP1 connection is named by its listener");
    return new Dap1Dialect(transport, { cfg, speech, deviceId });
  },
};
