import { parseConnectQuery, SESAME_PATH, SesameProtocolError } from "@hotpin/sesame";
import type { DialectModule } from "../dialect";
import { SESAME_CAPABILITIES, SesameDialect } from "./dialect";

/**
 * Sesame-style full-duplex client (docs/protocols/sesame.md): served at the path the client has
 * built in, the device JWT in `id_token`; the client offers permessage-deflate.
 */
export const sesame: DialectModule = {
  name: "sesame",
  capabilities: SESAME_CAPABILITIES,
  detect: {
    route: {
      path: SESAME_PATH,
      tokenParam: "id_token",
      perMessageDeflate: true,
      checkQuery(params) {
        try {
          parseConnectQuery(params);
          return undefined;
        } catch (err) {
          if (err instanceof SesameProtocolError) return err.message;
          throw err;
        }
      },
    },
  },
  create: (transport, { cfg }) => new SesameDialect(transport, cfg.sesameLeadMs),
};
