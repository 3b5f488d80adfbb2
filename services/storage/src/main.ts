import { storage } from "@hotpin/contracts";
import { connectNats, isConnected, startRuntime } from "@hotpin/runtime";
import { createComponents } from "./components";
import { readStorageConfig } from "./config";
import { pingDatabase } from "./db/connect";
import { storageService } from "./grpc/service";
import { createStorageMetrics } from "./metrics";

async function main(): Promise<void> {
  const cfg = readStorageConfig();
  const rt = await startRuntime("storage", cfg, ["hotpin.storage.v1.Storage"]);
  const metrics = createStorageMetrics(rt.registry);
  const nc = await connectNats({
    servers: cfg.natsServers,
    name: "storage",
    log: rt.log,
    token: cfg.natsToken,
    user: cfg.natsUser,
    pass: cfg.natsPassword,
    registry: rt.registry,
  });
  const c = await createComponents(cfg, nc, metrics, rt.log);

  rt.health.addCheck("database", () => pingDatabase(c.database.db).then(() => true as const));
  rt.health.addCheck("nats", () => isConnected(nc) || "nats disconnected");
  rt.health.addCheck("blobs", () => c.backend.check());
  rt.health.addCheck("event consumer", () => c.consumer.check());

  // gRPC first, so that it is the first thing stopped.
  const port = await rt.serveGrpc((server) =>
    server.addService(storage.StorageService, storageService(c.parts, metrics, rt.log)),
  );
  await c.consumer.start();
  c.retention.start();
  rt.shutdown.add("event consumer", () => c.consumer.stop());
  rt.shutdown.add("retention", () => c.retention.stop());
  rt.shutdown.add("nats", () => nc.drain());
  rt.shutdown.add("database", () => c.database.close());
  rt.started({ port, database: c.database.dialect, location: c.database.location, blobs: c.backend.name });
}

main().catch((err) => {
  // Before the logger exists (bad configuration) stderr is the only place to say why.
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
