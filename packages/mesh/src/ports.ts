import { createServer } from "node:net";

// Below Linux's default ephemeral range (32768–60999): a port picked now and bound a few seconds
// later cannot meanwhile become the source port of some outgoing connection, as one the OS picks
// for listen(0) can. Random within the range, so that concurrent test runs rarely try the same one.
const LOW = 20_000;
const HIGH = 32_767;
/** Ports this process has handed out: never twice, even before they are bound. */
const handedOut = new Set<number>();

/** A port that is free now and outside the ephemeral range; for test meshes on one machine. */
export async function freePort(host = "127.0.0.1"): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW + 1));
    if (handedOut.has(port) || !(await portIsFree(port, host))) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error(`no free port found in ${LOW}-${HIGH}`);
}

export function portIsFree(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}
