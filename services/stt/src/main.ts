import { stt } from "@hotpin/contracts";
import { readConfig, startRuntime } from "@hotpin/runtime";
import { sttSettings } from "./settings";
import { startSttService } from "./stt-service";

async function main(): Promise<void> {
  const cfg = readConfig(sttSettings);
  const rt = await startRuntime("stt", cfg, ["hotpin.stt.v1.SpeechToText"]);
  const service = await startSttService(cfg, rt.log, rt.registry);
  rt.health.addCheck("engine", () => service.check());
  const port = await rt.serveGrpc((server) => server.addService(stt.SpeechToTextService, service.implementation));
  rt.shutdown.add("worker pool", () => service.close());
  rt.started({ port, engine: service.selection.preferred, capacity: service.pool.capacity });
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
