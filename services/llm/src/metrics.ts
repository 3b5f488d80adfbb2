import { latencyBuckets } from "@hotpin/runtime";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { CircuitState } from "./circuit-breaker";

/** The service's metrics on the process registry. Labels never carry user text. */
export function createLlmMetrics(registry: Registry) {
  const registers = [registry];
  return {
    requests: new Counter({
      name: "hotpin_llm_requests_total",
      help: "Chats by provider, model and outcome (ok, invalid_argument, no_provider, busy, deadline, cancelled, unavailable, broken_stream, rejected)",
      labelNames: ["provider", "model", "outcome"] as const,
      registers,
    }),
    timeToFirstToken: new Histogram({
      name: "hotpin_llm_time_to_first_token_seconds",
      help: "From the chat's start (retries included) to the first token of the answer",
      labelNames: ["provider", "model"] as const,
      buckets: latencyBuckets,
      registers,
    }),
    timeToFirstSegment: new Histogram({
      name: "hotpin_llm_time_to_first_segment_seconds",
      help: "From the chat's start to the first segment ready for speech",
      labelNames: ["provider", "model"] as const,
      buckets: latencyBuckets,
      registers,
    }),
    duration: new Histogram({
      name: "hotpin_llm_chat_duration_seconds",
      help: "Whole chats, from start to the final answer or the error",
      labelNames: ["provider", "outcome"] as const,
      buckets: latencyBuckets,
      registers,
    }),
    tokensPerSecond: new Histogram({
      name: "hotpin_llm_output_tokens_per_second",
      help: "Output tokens per second after the first token, as the provider reported usage",
      labelNames: ["provider", "model"] as const,
      buckets: [5, 10, 25, 50, 100, 200, 400, 800, 1600],
      registers,
    }),
    tokens: new Counter({
      name: "hotpin_llm_tokens_total",
      help: "Tokens the providers reported, by direction (input, output)",
      labelNames: ["provider", "model", "direction"] as const,
      registers,
    }),
    retries: new Counter({
      name: "hotpin_llm_retries_total",
      help: "Attempts retried after a retryable failure, by reason",
      labelNames: ["provider", "model", "reason"] as const,
      registers,
    }),
    fallbacks: new Counter({
      name: "hotpin_llm_model_fallbacks_total",
      help: "Times a model was unavailable and the next fallback model was tried",
      labelNames: ["provider", "model"] as const,
      registers,
    }),
    circuit: new Gauge({
      name: "hotpin_llm_circuit_state",
      help: "Circuit breaker state per provider: 0 closed, 1 half-open, 2 open",
      labelNames: ["provider"] as const,
      registers,
    }),
    active: new Gauge({ name: "hotpin_llm_active_chats", help: "Chats in progress", registers }),
    maxChats: new Gauge({
      name: "hotpin_llm_max_chats",
      help: "Chats the service takes at once (HOTPIN_LLM_MAX_CONCURRENT_CHATS)",
      registers,
    }),
  };
}

export type LlmMetrics = ReturnType<typeof createLlmMetrics>;

export const circuitValue: Record<CircuitState, number> = { closed: 0, "half-open": 1, open: 2 };
