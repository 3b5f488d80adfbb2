import { tts } from "@hotpin/contracts";
import { startRuntime } from "@hotpin/runtime";
import { readTtsConfig } from "./config";
import { createTtsApp } from "./tts-app";

async function main() {
  const cfg = readTtsConfig();
  const rt = await startRuntime("tts", cfg, ["hotpin.tts.v1.TextToSpeech"]);
  const app = createTtsApp(cfg, rt.registry, rt.log);
  rt.health.addCheck("espeak-ng", app.engineCheck);
  const first = await app.engineCheck();
  if (first !== true) rt.log.error({ reason: first }, "engine not usable; serving NOT_SERVING until it is");
  const port = await rt.serveGrpc((server) => server.addService(tts.TextToSpeechService, app.service));
  // gRPC stops first and lets calls finish; anything still synthesising after that is waited for.
  rt.shutdown.add("syntheses", async () => {
    await app.slots.idle();
    await app.engine.idle();
    await app.engine.close();
  });
  rt.started({ port, maxConcurrent: cfg.maxConcurrent, voice: cfg.voice });
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
