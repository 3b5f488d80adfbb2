import Groq from "groq-sdk";
import { type ChatProvider, eventsFromChunks, type ProviderEvent, type ProviderRequest } from "./provider";

export interface GroqSettings {
  apiKey: string;
  /** Empty: groq-sdk's default endpoint. */
  baseUrl: string;
  models: string[];
}

/** Groq's multimodal chat through groq-sdk. The SDK's own retries are off: the service retries. */
export class GroqProvider implements ChatProvider {
  readonly name = "groq";
  readonly system = "groq";
  readonly vision = true;
  readonly models: readonly string[];
  private readonly client: Groq;

  constructor(settings: GroqSettings) {
    this.models = settings.models;
    this.client = new Groq({
      apiKey: settings.apiKey,
      ...(settings.baseUrl ? { baseURL: settings.baseUrl } : {}),
      maxRetries: 0,
      // The service's deadline and first-token timeout bound every call.
      timeout: 10 * 60_000,
    });
  }

  async *stream(model: string, request: ProviderRequest, signal: AbortSignal): AsyncIterable<ProviderEvent> {
    const stream = await this.client.chat.completions.create(
      {
        model,
        messages: request.messages as Groq.Chat.ChatCompletionMessageParam[],
        max_completion_tokens: request.maxTokens,
        temperature: request.temperature,
        stream: true,
      },
      { signal },
    );
    yield* eventsFromChunks(stream, model);
  }
}
