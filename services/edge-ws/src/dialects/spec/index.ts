import type { DialectModule } from "../dialect";
import { SPEC_CAPABILITIES, SpecDialect } from "./dialect";

export { SPEC_TTS_CHUNK_BYTES } from "./dialect";

/** HotPin spec dialect (docs/protocols/hotpin-spec.md): `?session=` in the URL, or a first frame with a `type`. */
export const spec: DialectModule = {
  name: "spec",
  capabilities: SPEC_CAPABILITIES,
  detect: { url: (url) => url.searchParams.has("session"), firstMessage: (msg) => "type" in msg },
  create: (transport, { cfg }) => new SpecDialect(transport, { maxChunkBytes: cfg.maxChunkBytes }),
};
