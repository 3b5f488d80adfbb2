import { connect, createServer, type Server, type Socket } from "node:net";

/**
 * A loopback TCP front for several edge replicas, as a Service/load balancer would be: each new
 * connection goes to the next backend in turn; a backend that refuses the connection is skipped
 * (bounded: each backend tried once). Established connections are piped byte for byte.
 */
export async function startRoundRobinProxy(backends: number[]): Promise<{ port: number; close(): Promise<void> }> {
  let next = 0;
  const open = new Set<Socket>();
  const server: Server = createServer((client) => {
    open.add(client);
    client.on("close", () => open.delete(client));
    client.on("error", () => client.destroy());
    client.pause();
    const attempt = (tries: number) => {
      if (tries >= backends.length) {
        client.destroy();
        return;
      }
      const port = backends[next++ % backends.length] as number;
      const upstream = connect(port, "127.0.0.1");
      let established = false;
      upstream.once("error", () => {
        if (!established) attempt(tries + 1);
        else client.destroy();
      });
      upstream.once("connect", () => {
        established = true;
        open.add(upstream);
        upstream.on("close", () => {
          open.delete(upstream);
          client.destroy();
        });
        upstream.on("error", () => upstream.destroy());
        client.on("close", () => upstream.destroy());
        client.pipe(upstream);
        upstream.pipe(client);
        client.resume();
      });
    };
    attempt(0);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const addr = server.address();
  return {
    port: typeof addr === "object" && addr ? addr.port : 0,
    close: () =>
      new Promise<void>((r) => {
        for (const s of open) s.destroy();
        server.close(() => r());
      }),
  };
}
