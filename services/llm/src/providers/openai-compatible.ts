import OpenAI from "openai";
import { type ChatProvider, eventsFromChunks, type ProviderEvent, type ProviderRequest } from "./provider";

export interface OpenAiCompatibleSettings {
  /** e.g. http://127.0.0.1:8080/v1 for llama.cpp's server, http://127.0.0.1:11434/v1 for Ollama. */
  baseUrl: string;
  apiKey: string;
  models: string[];
  vision: boolean;
}

/** Any server speaking the OpenAI chat API (llama.cpp, LocalAI, Ollama, vLLM) through the openai package. */
export class OpenAiCompatibleProvider implements ChatProvider {
  readonly name = "openai";
  readonly system = "openai";
  readonly models: readonly string[];
  readonly vision: boolean;
  private readonly client: OpenAI;

  constructor(settings: OpenAiCompatibleSettings) {
    this.models = settings.models;
    this.vision = settings.vision;
    this.client = new OpenAI({
      baseURL: settings.baseUrl,
      // Local servers usually want no key, but the client insists on one.
      apiKey: settings.apiKey || "none",
      maxRetries: 0,
      timeout: 10 * 60_000,
    });
  }

  async *stream(model: string, request: ProviderRequest, signal: AbortSignal): AsyncIterable<ProviderEvent> {
    const stream = await this.client.chat.completions.create(
      {
        model,
        messages: request.messages as OpenAI.Chat.ChatCompletionMessageParam[],
        // max_tokens rather than max_completion_tokens: local servers know the older name.
        max_tokens: request.maxTokens,
        temperature: request.temperature,
        stream: true,
        stream_options: { include_usage: true },
      },
      { signal },
    );
    yield* eventsFromChunks(stream, model);
  }
}
