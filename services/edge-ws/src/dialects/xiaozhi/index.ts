import { type ConnectRequest, parseConnectRequest, XiaozhiProtocolError } from "@hotpin/xiaozhi";
import type { DialectModule, HeaderRoute } from "../dialect";
import { XIAOZHI_CAPABILITIES, XiaozhiDialect } from "./dialect";

export { XIAOZHI_DOWN_RATE, XIAOZHI_FRAME_MS, XIAOZHI_UP_RATE } from "./dialect";

export const XIAOZHI_WS_PATH = "/xiaozhi/v1/";

/** One module per connection: it carries the upgrade's checked headers to the dialect. */
function xiaozhiFor(connect: ConnectRequest): DialectModule {
  return {
    name: "xiaozhi",
    capabilities: XIAOZHI_CAPABILITIES,
    detect: {},
    create: (transport, { cfg }) => new XiaozhiDialect(transport, { connect, cfg }),
  };
}

/**
 * xiaozhi-esp32 (docs/protocols/xiaozhi.md §2): not detected on `/ws` but named by its own path,
 * its device, board and binary protocol version by the upgrade's headers, checked before it. The
 * device hangs up without a close frame.
 */
export const xiaozhiRoute: HeaderRoute = {
  path: XIAOZHI_WS_PATH,
  hangupIsNormal: true,
  accept(headers) {
    try {
      const connect = parseConnectRequest(headers);
      return { module: xiaozhiFor(connect), deviceId: connect.deviceId };
    } catch (err) {
      if (err instanceof XiaozhiProtocolError) return { refusal: "bad_handshake" };
      throw err;
    }
  },
};
