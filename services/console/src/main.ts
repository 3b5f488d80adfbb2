import { startRuntime } from "@hotpin/runtime";
import { readConsoleConfig } from "./config";
import { startConsoleService } from "./console-service";

async function main(): Promise<void> {
  const cfg = readConsoleConfig();
  const rt = await startRuntime("console", cfg);
  const service = await startConsoleService(cfg, rt.log, rt.registry);
  rt.health.addCheck("nats", () => service.check());
  rt.shutdown.add("http", () => service.closeHttp(Math.max(1000, cfg.shutdownStepTimeoutMs - 1000)));
  rt.shutdown.add("watches", async () => service.stopWatching());
  rt.shutdown.add("nats", () => service.drainNats());
  rt.shutdown.add("storage client", async () => service.closeStorage());
  rt.started({ port: service.port });
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
