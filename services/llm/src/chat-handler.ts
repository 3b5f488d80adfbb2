import type { llm } from "@hotpin/contracts";
import { Attr, type grpc, grpcError, type Logger } from "@hotpin/runtime";
import { trace } from "@opentelemetry/api";
import { type RequestLimits, validateChat } from "./chat-request";
import { ChatFailure, type ChatService } from "./chat-service";
import type { LlmMetrics } from "./metrics";

export interface HandlerOptions {
  service: ChatService;
  limits: RequestLimits;
  systemPrompt: string;
  deadlineMs: number;
  maxConcurrentChats: number;
  metrics: LlmMetrics;
  log: Logger;
}

const Status = { CANCELLED: 1, INVALID_ARGUMENT: 3, DEADLINE_EXCEEDED: 4, RESOURCE_EXHAUSTED: 8 } as const;

// A server stream reports its status through an "error" event (destroy() would skip sending it).
/** The LanguageModel.Chat handler: limits, deadline, cancellation and backpressure around ChatService. */
export function createChatHandler(opts: HandlerOptions): llm.LanguageModelServer["chat"] {
  let active = 0;
  return (call) => {
    if (active >= opts.maxConcurrentChats) {
      opts.metrics.requests.inc({ provider: "none", model: "none", outcome: "busy" });
      call.emit("error", grpcError(Status.RESOURCE_EXHAUSTED, `too many chats at once (${opts.maxConcurrentChats})`));
      return;
    }
    active++;
    opts.metrics.active.inc();
    void serve(call, opts).finally(() => {
      active--;
      opts.metrics.active.dec();
    });
  };
}

async function serve(call: grpc.ServerWritableStream<llm.ChatRequest, llm.ChatResponse>, opts: HandlerOptions) {
  const began = Date.now();
  const { request } = call;
  trace.getActiveSpan()?.setAttributes({ [Attr.deviceId]: request.deviceId, [Attr.sessionId]: request.sessionId });
  const fields = { deviceId: request.deviceId, sessionId: request.sessionId };

  let chat: ReturnType<typeof validateChat>;
  try {
    chat = validateChat(request, opts.limits, opts.systemPrompt);
  } catch (err) {
    opts.metrics.requests.inc({ provider: "none", model: "none", outcome: "invalid_argument" });
    opts.log.info({ ...fields, reason: (err as Error).message }, "chat refused");
    call.emit("error", err as Error);
    return;
  }

  // The tighter of the service's deadline and the caller's.
  const callDeadline = Number(call.getDeadline());
  const deadlineAt = Math.min(began + opts.deadlineMs, Number.isFinite(callDeadline) ? callDeadline : Infinity);
  const abort = new AbortController();
  const timer = setTimeout(
    () =>
      abort.abort(new ChatFailure(Status.DEADLINE_EXCEEDED, "the language model did not answer in time", "deadline")),
    Math.max(0, deadlineAt - Date.now()),
  );
  const onCancel = () => abort.abort(new ChatFailure(Status.CANCELLED, "the caller cancelled the chat", "cancelled"));
  call.once("cancelled", onCancel);

  let segments = 0;
  try {
    for await (const event of opts.service.chat(chat, abort.signal, deadlineAt)) {
      if (event.$case === "segment") segments++;
      if (abort.signal.aborted) continue; // the next step of the chat sees the abort and ends it
      if (!call.write({ event })) await drained(call, abort.signal);
      if (event.$case === "final") {
        opts.log.info(
          { ...fields, provider: event.value.provider, model: event.value.model, segments, ms: Date.now() - began },
          "chat answered",
        );
      }
    }
    call.end();
  } catch (err) {
    const failure =
      err instanceof ChatFailure
        ? err
        : new ChatFailure(13, "the chat failed unexpectedly", "internal", { cause: err });
    const level = failure.outcome === "cancelled" || failure.outcome === "no_provider" ? "info" : "warn";
    opts.log[level](
      {
        ...fields,
        outcome: failure.outcome,
        code: failure.code,
        reason: failure.message,
        segments,
        ms: Date.now() - began,
      },
      "chat failed",
    );
    if (!call.cancelled) call.emit("error", grpcError(failure.code, failure.message));
  } finally {
    clearTimeout(timer);
    call.off("cancelled", onCancel);
  }
}

/** Resolves when the stream can take more, or when the chat was aborted. */
function drained(
  call: grpc.ServerWritableStream<llm.ChatRequest, llm.ChatResponse>,
  signal: AbortSignal,
): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      call.off("drain", done);
      signal.removeEventListener("abort", done);
      resolve();
    };
    call.once("drain", done);
    signal.addEventListener("abort", done, { once: true });
  });
}
