import type { llm } from "@hotpin/contracts";
import { Attr, grpc, recordFailure, tracer } from "@hotpin/runtime";
import { context, type Span, SpanKind, trace } from "@opentelemetry/api";
import { backoffMs, sleep } from "./backoff";
import type { ValidChat } from "./chat-request";
import { toMessages } from "./chat-request";
import type { CircuitBreaker } from "./circuit-breaker";
import type { LlmMetrics } from "./metrics";
import { classifyProviderError, ProviderError } from "./provider-errors";
import type { ChatProvider, TokenUsage } from "./providers/provider";
import { SentenceSegmenter } from "./sentence-segmenter";

/** A chat that ended without an answer: the gRPC status to send and the metric outcome. */
export class ChatFailure extends Error {
  override name = "ChatFailure";
  constructor(
    readonly code: grpc.status,
    message: string,
    readonly outcome: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export const NO_PROVIDER_MESSAGE = "no language model is configured";

export interface ChatSettings {
  temperature: number;
  maxAttempts: number;
  retryBaseMs: number;
  retryMaxMs: number;
  maxRetryAfterMs: number;
  firstTokenTimeoutMs: number;
  segmentMinChars: number;
  segmentMaxChars: number;
}

export interface ProviderSlot {
  provider: ChatProvider;
  breaker: CircuitBreaker;
}

export type ChatEvent = NonNullable<llm.ChatResponse["event"]>;

class FirstTokenTimeout extends Error {
  override name = "FirstTokenTimeout";
}

/**
 * Answers one chat: providers in order, each model then its fallbacks, retries with backoff on
 * retryable failures (never once a token was streamed), circuit breakers, and the answer
 * streamed as deltas, segments for speech and a final message.
 */
export class ChatService {
  constructor(
    private readonly slots: ProviderSlot[],
    private readonly settings: ChatSettings,
    private readonly metrics: LlmMetrics,
    private readonly random: () => number = Math.random,
  ) {}

  get configured(): boolean {
    return this.slots.length > 0;
  }

  /**
   * Streams the answer. `signal` aborts with a ChatFailure as reason (deadline or cancel);
   * `deadlineAt` (epoch ms) bounds retry waits.
   */
  async *chat(chat: ValidChat, signal: AbortSignal, deadlineAt: number): AsyncGenerator<ChatEvent> {
    if (!this.configured) {
      throw new ChatFailure(grpc.status.FAILED_PRECONDITION, NO_PROVIDER_MESSAGE, "no_provider");
    }
    const began = performance.now();
    const chatSpan = tracer().startSpan("llm.chat", {
      attributes: { "gen_ai.operation.name": "chat", "gen_ai.request.max_tokens": chat.maxTokens },
    });
    const parent = trace.setSpan(context.active(), chatSpan);
    let last: ProviderError | ChatFailure | undefined;
    let provider = "none";
    try {
      for (const { provider: p, breaker } of this.slots) {
        provider = p.name;
        const request = {
          messages: toMessages(chat, p.vision),
          maxTokens: chat.maxTokens,
          temperature: this.settings.temperature,
        };
        models: for (const model of p.models) {
          for (let attempt = 1; attempt <= this.settings.maxAttempts; attempt++) {
            if (!breaker.tryAcquire()) {
              last = new ChatFailure(
                grpc.status.UNAVAILABLE,
                `${p.name} is failing; its circuit is open for ${Math.ceil(breaker.retryInMs() / 1000)} s more`,
                "unavailable",
              );
              break models;
            }
            const span = tracer().startSpan(
              `chat ${model}`,
              {
                kind: SpanKind.CLIENT,
                attributes: {
                  [Attr.genAiSystem]: p.system,
                  "gen_ai.operation.name": "chat",
                  [Attr.genAiRequestModel]: model,
                  "gen_ai.request.max_tokens": chat.maxTokens,
                  "gen_ai.request.temperature": this.settings.temperature,
                  "hotpin.llm.attempt": attempt,
                },
              },
              parent,
            );
            let streamed = false;
            try {
              for await (const event of this.attempt(p, model, request, signal, began, span, () => {
                streamed = true;
              })) {
                yield event;
              }
              breaker.onSuccess();
              span.end();
              this.metrics.requests.inc({ provider: p.name, model, outcome: "ok" });
              this.metrics.duration.observe({ provider: p.name, outcome: "ok" }, (performance.now() - began) / 1000);
              chatSpan.end();
              return;
            } catch (err) {
              recordFailure(span, err);
              span.end();
              if (signal.aborted) {
                breaker.release();
                throw signal.reason;
              }
              const failure =
                err instanceof FirstTokenTimeout
                  ? new ProviderError("no first token in time", "retryable", "timeout", undefined, undefined)
                  : classifyProviderError(err);
              if (streamed) {
                // Part of the answer is already spoken: a retry would repeat it. Say so instead.
                breaker.onFailure();
                throw new ChatFailure(
                  grpc.status.UNAVAILABLE,
                  `the answer from ${p.name} broke off midway (${failure.message})`,
                  "broken_stream",
                  { cause: err },
                );
              }
              last = failure;
              if (failure.kind === "fatal") {
                breaker.onSuccess();
                const code =
                  failure.status === 401 || failure.status === 403 ? "FAILED_PRECONDITION" : "INVALID_ARGUMENT";
                throw new ChatFailure(grpc.status[code], `${p.name}: ${failure.message}`, "rejected", { cause: err });
              }
              if (failure.kind === "model-unavailable") {
                breaker.onSuccess();
                this.metrics.fallbacks.inc({ provider: p.name, model });
                continue models;
              }
              // A rate limit says the provider is alive; everything else counts against it.
              if (failure.reason === "rate_limited") breaker.release();
              else breaker.onFailure();
              if (attempt === this.settings.maxAttempts) break models;
              const wait =
                failure.retryAfterMs ??
                backoffMs(attempt, this.settings.retryBaseMs, this.settings.retryMaxMs, this.random);
              if (wait > this.settings.maxRetryAfterMs || Date.now() + wait >= deadlineAt) break models;
              this.metrics.retries.inc({ provider: p.name, model, reason: failure.reason });
              await sleep(wait, signal);
            }
          }
        }
      }
      throw last instanceof ChatFailure
        ? last
        : new ChatFailure(
            grpc.status.UNAVAILABLE,
            `every language model provider failed (last: ${last?.message ?? "no model available"})`,
            "unavailable",
            { cause: last },
          );
    } catch (err) {
      const failure =
        err instanceof ChatFailure
          ? err
          : signal.aborted && signal.reason instanceof ChatFailure
            ? signal.reason
            : new ChatFailure(grpc.status.INTERNAL, "the chat failed unexpectedly", "internal", { cause: err });
      recordFailure(chatSpan, failure);
      chatSpan.end();
      this.metrics.requests.inc({ provider, model: "none", outcome: failure.outcome });
      this.metrics.duration.observe({ provider, outcome: failure.outcome }, (performance.now() - began) / 1000);
      throw failure;
    }
  }

  /** One streamed attempt: deltas, segments for speech, then the final message. */
  private async *attempt(
    p: ChatProvider,
    model: string,
    request: Parameters<ChatProvider["stream"]>[1],
    chatSignal: AbortSignal,
    began: number,
    span: Span,
    onFirstToken: () => void,
  ): AsyncGenerator<ChatEvent> {
    // The attempt alone is abandoned when no token comes in time; the chat may retry.
    const attemptAbort = new AbortController();
    const firstTokenTimer = setTimeout(
      () => attemptAbort.abort(new FirstTokenTimeout()),
      this.settings.firstTokenTimeoutMs,
    );
    const signal = AbortSignal.any([chatSignal, attemptAbort.signal]);
    const segmenter = new SentenceSegmenter({
      minChars: this.settings.segmentMinChars,
      maxChars: this.settings.segmentMaxChars,
    });
    let text = "";
    let index = 0;
    let firstTokenAt = 0;
    let usage: TokenUsage | undefined;
    const labels = { provider: p.name, model };
    try {
      for await (const event of p.stream(model, request, signal)) {
        if (event.type === "delta") {
          if (!firstTokenAt) {
            firstTokenAt = performance.now();
            clearTimeout(firstTokenTimer);
            onFirstToken();
            this.metrics.timeToFirstToken.observe(labels, (firstTokenAt - began) / 1000);
          }
          text += event.text;
          yield { $case: "delta", value: { text: event.text } };
          for (const segment of segmenter.push(event.text)) {
            if (index === 0) this.metrics.timeToFirstSegment.observe(labels, (performance.now() - began) / 1000);
            yield { $case: "segment", value: { index: index++, text: segment } };
          }
        } else {
          for (const segment of segmenter.flush()) {
            if (index === 0) this.metrics.timeToFirstSegment.observe(labels, (performance.now() - began) / 1000);
            yield { $case: "segment", value: { index: index++, text: segment } };
          }
          usage = event.usage;
          span.setAttribute(Attr.genAiResponseModel, event.model);
          span.setAttribute("gen_ai.response.finish_reasons", [event.finishReason]);
          if (usage) {
            span.setAttribute(Attr.genAiInputTokens, usage.inputTokens);
            span.setAttribute(Attr.genAiOutputTokens, usage.outputTokens);
            this.metrics.tokens.inc({ ...labels, direction: "input" }, usage.inputTokens);
            this.metrics.tokens.inc({ ...labels, direction: "output" }, usage.outputTokens);
            const seconds = (performance.now() - (firstTokenAt || began)) / 1000;
            if (seconds > 0 && usage.outputTokens > 1) {
              this.metrics.tokensPerSecond.observe(labels, usage.outputTokens / seconds);
            }
          }
          yield {
            $case: "final",
            value: {
              text,
              usage: { promptTokens: usage?.inputTokens ?? 0, completionTokens: usage?.outputTokens ?? 0 },
              provider: p.name,
              model: event.model,
              finishReason: event.finishReason,
            },
          };
        }
      }
    } catch (err) {
      // The SDK reports our own abort as a user abort; surface why it was aborted.
      if (attemptAbort.signal.aborted && !chatSignal.aborted) throw attemptAbort.signal.reason;
      throw err;
    } finally {
      clearTimeout(firstTokenTimer);
    }
  }
}
