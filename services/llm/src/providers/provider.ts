/** One content part of a user message, in the OpenAI chat shape both SDKs share. */
export type ContentPart = { type: "text"; text: string } | { type: "image_url"; image_url: { url: string } };

export type Message =
  | { role: "system"; content: string }
  | { role: "assistant"; content: string }
  | { role: "user"; content: string | ContentPart[] };

export interface ProviderRequest {
  messages: Message[];
  maxTokens: number;
  temperature: number;
}

export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
}

export type ProviderEvent =
  | { type: "delta"; text: string }
  | { type: "end"; finishReason: string; model: string; usage: TokenUsage | undefined };

/** A language model API the service can stream a chat from. */
export interface ChatProvider {
  /** "groq" or "openai": metric label and Final.provider. */
  readonly name: string;
  /** gen_ai.system for spans. */
  readonly system: string;
  /** The model first, then the fallbacks in order. */
  readonly models: readonly string[];
  /** Whether image parts are sent; otherwise the image is left out of the request. */
  readonly vision: boolean;
  /** Streams one attempt; throws the SDK's error on failure; stops when `signal` aborts. */
  stream(model: string, request: ProviderRequest, signal: AbortSignal): AsyncIterable<ProviderEvent>;
}

/** The streamed chunk shape of OpenAI-compatible APIs (groq-sdk and openai yield the same). */
export interface CompletionChunk {
  model?: string;
  choices: { delta?: { content?: string | null }; finish_reason?: string | null }[];
  usage?: { prompt_tokens?: number; completion_tokens?: number } | null;
  x_groq?: { usage?: { prompt_tokens?: number; completion_tokens?: number } | null } | null;
}

/** Maps SDK chunks to provider events; usage comes from x_groq (Groq) or a final usage chunk (OpenAI). */
export async function* eventsFromChunks(
  chunks: AsyncIterable<CompletionChunk>,
  requestedModel: string,
): AsyncGenerator<ProviderEvent> {
  let finishReason = "";
  let model = requestedModel;
  let usage: TokenUsage | undefined;
  for await (const chunk of chunks) {
    if (chunk.model) model = chunk.model;
    const reported = chunk.x_groq?.usage ?? chunk.usage;
    if (reported) {
      usage = { inputTokens: reported.prompt_tokens ?? 0, outputTokens: reported.completion_tokens ?? 0 };
    }
    for (const choice of chunk.choices) {
      const text = choice.delta?.content;
      if (text) yield { type: "delta", text };
      if (choice.finish_reason) finishReason = choice.finish_reason;
    }
  }
  yield { type: "end", finishReason: finishReason || "stop", model, usage };
}
