import type { ConnectRequest } from "@hotpin/xiaozhi";
import type { DialectModule } from "../dialect";
import { XIAOZHI_CAPABILITIES, XiaozhiDialect } from "./dialect";

export { XIAOZHI_DOWN_RATE, XIAOZHI_FRAME_MS, XIAOZHI_UP_RATE } from "./dialect";

/**
 * xiaozhi-esp32 (docs/protocols/xiaozhi.md): not detected on `/ws` but named by its own path,
 * `/xiaozhi/v1/`, whose upgrade headers (device, client, protocol version) the server has
 * already checked; one module per connection carries them to the dialect.
 */
export function xiaozhiFor(connect: ConnectRequest): DialectModule {
  return {
    name: "xiaozhi",
    capabilities: XIAOZHI_CAPABILITIES,
    detect: {},
    create: (transport, { cfg }) => new XiaozhiDialect(transport, { connect, cfg }),
  };
}
