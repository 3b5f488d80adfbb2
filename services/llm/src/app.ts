import { llm } from "@hotpin/contracts";
import type { grpc, Logger } from "@hotpin/runtime";
import type { Registry } from "prom-client";
import { createChatHandler } from "./chat-handler";
import { ChatService, NO_PROVIDER_MESSAGE, type ProviderSlot } from "./chat-service";
import { CircuitBreaker } from "./circuit-breaker";
import type { llmSettings } from "./config";
import { circuitValue, createLlmMetrics } from "./metrics";
import { GroqProvider } from "./providers/groq";
import { OpenAiCompatibleProvider } from "./providers/openai-compatible";
import type { ChatProvider } from "./providers/provider";

type Values<S> = { [K in keyof S]: S[K] extends { read(raw: string | undefined): infer T } ? T : never };
export type LlmConfig = Values<typeof llmSettings>;

/** The configured providers in the configured order; empty when none has its settings. */
export function createProviders(cfg: LlmConfig): ChatProvider[] {
  const available: Record<string, ChatProvider | undefined> = {
    groq: cfg.groqApiKey
      ? new GroqProvider({
          apiKey: cfg.groqApiKey,
          baseUrl: cfg.groqBaseUrl,
          models: [cfg.groqModel, ...cfg.groqFallbackModels],
        })
      : undefined,
    openai: cfg.openaiBaseUrl
      ? new OpenAiCompatibleProvider({
          baseUrl: cfg.openaiBaseUrl,
          apiKey: cfg.openaiApiKey,
          models: [cfg.openaiModel, ...cfg.openaiFallbackModels],
          vision: cfg.openaiVision,
        })
      : undefined,
  };
  return cfg.providerOrder.map((name) => available[name]).filter((p): p is ChatProvider => p !== undefined);
}

export interface LlmApp {
  service: ChatService;
  providers: ChatProvider[];
  slots: ProviderSlot[];
  /** Registers LanguageModel on a gRPC server. */
  register(server: grpc.Server): void;
  /** Readiness: true, or why chats cannot be answered. */
  check(): true | string;
}

/** Everything of the service but the process: used by main.ts, the tests and the benchmark alike. */
export function createLlmApp(
  cfg: LlmConfig,
  deps: { log: Logger; registry: Registry; now?: () => number; random?: () => number },
): LlmApp {
  const metrics = createLlmMetrics(deps.registry);
  metrics.maxChats.set(cfg.maxConcurrentChats);
  const providers = createProviders(cfg);
  const slots = providers.map((provider) => {
    metrics.circuit.set({ provider: provider.name }, 0);
    const breaker = new CircuitBreaker({
      failureThreshold: cfg.breakerFailures,
      openMs: cfg.breakerOpenMs,
      ...(deps.now ? { now: deps.now } : {}),
      onStateChange: (state) => {
        metrics.circuit.set({ provider: provider.name }, circuitValue[state]);
        deps.log.warn({ provider: provider.name, state }, "circuit breaker changed state");
      },
    });
    return { provider, breaker };
  });
  const service = new ChatService(slots, cfg, metrics, deps.random);
  const handler = createChatHandler({
    service,
    limits: cfg,
    systemPrompt: cfg.systemPrompt,
    deadlineMs: cfg.deadlineMs,
    maxConcurrentChats: cfg.maxConcurrentChats,
    metrics,
    log: deps.log,
  });
  return {
    service,
    providers,
    slots,
    register(server) {
      server.addService(llm.LanguageModelService, { chat: handler } satisfies llm.LanguageModelServer);
    },
    check() {
      return providers.length > 0
        ? true
        : `${NO_PROVIDER_MESSAGE}: set GROQ_API_KEY or HOTPIN_LLM_OPENAI_BASE_URL (chats fail with FAILED_PRECONDITION)`;
    },
  };
}
