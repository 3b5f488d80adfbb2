import { createInterface } from "node:readline";
import { startNats } from "@hotpin/test-support";
import { BENCH_TOKEN, startEdgeProcess } from "../bench/edge-process";
import { startPeers, TestDevice, tone } from "../test-peers.test-util";
import { type FuzzFigures, fuzzEdge } from "./fuzz";

export interface FuzzRun extends FuzzFigures {
  healthy: { exchanges: number; failures: number; errors: string[] };
  /** Log lines of the edge that mean a bug: a crash, a session failure, an unhandled rejection. */
  bugLines: string[];
  edgeAlive: boolean;
  /** The edge's last output lines when it did not survive. */
  edgeTail: string;
}

/**
 * A live edge process (real NATS, contract-speaking gRPC peers) under the fuzzer, while one
 * healthy firmware device on the same replica keeps completing exchanges.
 */
export async function runFuzz(opts: {
  seed: number;
  framesPerDialect: number;
  httpRequests: number;
}): Promise<FuzzRun> {
  await using nats = await startNats();
  const peers = await startPeers({ transcript: "hello there", llm: "ok", ttsFails: false });
  const edge = await startEdgeProcess({
    natsUrl: nats.url,
    stt: peers.address,
    llm: peers.address,
    tts: peers.address,
    storage: peers.address,
    env: {
      HOTPIN_LOG_LEVEL: "warn",
      HOTPIN_EDGE_PLAYBACK_READY_TIMEOUT_MS: "300",
      // Every fuzz socket comes from 127.0.0.1 with one token: let them in to reach the parsers.
      HOTPIN_EDGE_MAX_PENDING_PER_ADDRESS: "400",
      HOTPIN_EDGE_MAX_PENDING_PER_TOKEN: "400",
      HOTPIN_EDGE_MAX_MESSAGES_PER_SEC: "2000",
    },
  });
  const bugLines: string[] = [];
  for (const stream of [edge.child.proc.stdout, edge.child.proc.stderr]) {
    createInterface({ input: stream as NodeJS.ReadableStream }).on("line", (line) => {
      if (/process crashed|session failed|unhandled|uncaught/i.test(line) && bugLines.length < 20) bugLines.push(line);
    });
  }
  const healthy = { exchanges: 0, failures: 0, errors: [] as string[] };
  let fuzzing = true;
  const healthyLoop = (async () => {
    while (fuzzing) {
      const d = new TestDevice(`${edge.url}/ws`, { authorization: `Bearer ${BENCH_TOKEN}` });
      try {
        await d.opened;
        d.send({ session_id: "healthy-device" });
        await withTimeout(d.until((m) => m.status === "connected"));
        for (let i = 0; i < 4; i++) {
          d.ws.send(tone(4096));
          if (i % 2 === 1) await withTimeout(d.until((m) => m.status === "receiving"));
        }
        d.send({ signal: "EOS" });
        const end = await withTimeout(d.until((m) => m.status === "complete" || m.status === "error"));
        if (end.status === "error") throw new Error(`refused: ${JSON.stringify(end)}`);
        healthy.exchanges++;
      } catch (err) {
        healthy.failures++;
        const closed = d.ws.readyState === d.ws.CLOSED ? await d.closed : undefined;
        const why = closed ? ` (closed ${closed.code} ${closed.reason})` : "";
        if (healthy.errors.length < 10) healthy.errors.push(`${(err as Error).message}${why}`);
      } finally {
        d.ws.close();
      }
    }
  })();
  try {
    const figures = await fuzzEdge({
      url: edge.url,
      token: BENCH_TOKEN,
      seed: opts.seed,
      framesPerDialect: opts.framesPerDialect,
      httpRequests: opts.httpRequests,
    });
    fuzzing = false;
    await healthyLoop;
    const edgeAlive = edge.child.proc.exitCode === null && edge.child.proc.signalCode === null;
    return { ...figures, healthy, bugLines, edgeAlive, edgeTail: edgeAlive ? "" : edge.child.tail() };
  } finally {
    fuzzing = false;
    await edge.stop();
    peers.stop();
  }
}

function withTimeout<T>(p: Promise<T>, ms = 20_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
