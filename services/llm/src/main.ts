import { ConfigError, readConfig, startRuntime } from "@hotpin/runtime";
import { createLlmApp } from "./app";
import { llmSettings } from "./config";

async function main() {
  const cfg = readConfig(llmSettings);
  const unknown = cfg.providerOrder.filter((p) => p !== "groq" && p !== "openai");
  if (unknown.length > 0) throw new ConfigError([`HOTPIN_LLM_PROVIDER_ORDER: unknown provider ${unknown.join(", ")}`]);
  const rt = await startRuntime("llm", cfg, ["hotpin.llm.v1.LanguageModel"]);
  const app = createLlmApp(cfg, { log: rt.log, registry: rt.registry });
  rt.health.addCheck("provider", () => app.check());
  const port = await rt.serveGrpc((server) => app.register(server));
  if (app.providers.length === 0) rt.log.warn("no language model provider configured; chats will fail");
  rt.started({ port, providers: app.providers.map((p) => `${p.name}:${p.models[0]}`) });
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
