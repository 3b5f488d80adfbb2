import type { DialectModule } from "./dialect";
import { firmware } from "./firmware";
import { sesame } from "./sesame";
import { spec } from "./spec";

/**
 * The dialects sharing the WebSocket endpoint, in detection order (docs/protocols/hotpin-spec.md, detection).
 * A new dialect is a folder exporting a DialectModule and one entry here; the server and the
 * session never name a dialect.
 */
export class DialectRegistry {
  constructor(
    readonly modules: readonly DialectModule[],
    /** The dialect of a client that says nothing (spec clients may wait for `ready`). */
    readonly whenSilent: DialectModule,
  ) {}

  /** The dialect served at a path of its own, if any. */
  fromPath(path: string): DialectModule | undefined {
    return this.modules.find((m) => m.detect.route?.path === path);
  }

  fromUrl(url: URL): DialectModule | undefined {
    return this.modules.find((m) => m.detect.url?.(url));
  }

  /** Undefined: the first frame is no dialect's handshake. */
  fromFirstFrame(data: Buffer, isBinary: boolean): DialectModule | undefined {
    if (isBinary) return undefined;
    let msg: unknown;
    try {
      msg = JSON.parse(data.toString("utf8"));
    } catch {
      return undefined;
    }
    if (typeof msg !== "object" || msg === null || Array.isArray(msg)) return undefined;
    return this.modules.find((m) => m.detect.firstMessage?.(msg as Record<string, unknown>));
  }
}

export const webSocketDialects = new DialectRegistry([spec, firmware, sesame], spec);
