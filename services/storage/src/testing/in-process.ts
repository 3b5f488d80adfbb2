import { storage } from "@hotpin/contracts";
import {
  bindGrpcServer,
  connectNats,
  createGrpcClient,
  createGrpcServer,
  createLogger,
  stopGrpcServer,
} from "@hotpin/runtime";
import type { NatsConnection } from "@nats-io/transport-node";
import { Registry } from "prom-client";
import { createComponents, type StorageComponents } from "../components";
import { readStorageConfig, type StorageConfig } from "../config";
import { storageService } from "../grpc/service";
import { createStorageMetrics, type StorageMetrics } from "../metrics";
import type { TestDatabase } from "./databases";

export interface InProcessStorage extends AsyncDisposable {
  client: storage.StorageClient;
  components: StorageComponents;
  metrics: StorageMetrics;
  registry: Registry;
  nc: NatsConnection;
  cfg: StorageConfig;
}

/**
 * The storage service assembled from the same components main.ts uses, on a loopback port, for
 * tests that need to reach into it (clock-controlled expiry, metrics). `env` overrides settings.
 */
export async function startInProcess(
  db: TestDatabase,
  natsUrl: string,
  env: Record<string, string> = {},
): Promise<InProcessStorage> {
  const cfg = readStorageConfig({
    HOTPIN_STORAGE_DATABASE_URL: db.url,
    HOTPIN_STORAGE_DATABASE_SCHEMA: db.schema,
    HOTPIN_STORAGE_DATA_DIR: db.dataDir,
    HOTPIN_NATS_URL: natsUrl,
    ...env,
  });
  const log = createLogger("storage-test", "warn");
  const registry = new Registry();
  const metrics = createStorageMetrics(registry);
  const nc = await connectNats({ servers: cfg.natsServers, name: "storage-test", log });
  const components = await createComponents(cfg, nc, metrics, log);
  const server = createGrpcServer();
  server.addService(storage.StorageService, storageService(components.parts, metrics, log));
  const port = await bindGrpcServer(server, "127.0.0.1", 0);
  await components.consumer.start();
  const client = createGrpcClient(storage.StorageClient, `127.0.0.1:${port}`);
  return {
    client,
    components,
    metrics,
    registry,
    nc,
    cfg,
    async [Symbol.asyncDispose]() {
      client.close();
      await stopGrpcServer(server, 2_000);
      await components.consumer.stop();
      await components.retention.stop();
      await nc.drain();
      await components.database.close();
    },
  };
}
