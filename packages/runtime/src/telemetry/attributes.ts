/**
 * Span attribute keys used across the mesh, in one place. Keys that carry user content are
 * marked `pii` in their name and are never set unless HOTPIN_TRACE_PII=true.
 */
export const Attr = {
  deviceId: "hotpin.device.id",
  sessionId: "hotpin.session.id",
  dialect: "hotpin.device.dialect",
  utterance: "hotpin.utterance",
  engine: "hotpin.engine",
  eventType: "hotpin.event.type",
  audioBytes: "hotpin.audio.bytes",
  audioMs: "hotpin.audio.duration_ms",
  // GenAI semantic conventions.
  genAiSystem: "gen_ai.system",
  genAiRequestModel: "gen_ai.request.model",
  genAiResponseModel: "gen_ai.response.model",
  genAiInputTokens: "gen_ai.usage.input_tokens",
  genAiOutputTokens: "gen_ai.usage.output_tokens",
  // Messaging semantic conventions.
  messagingSystem: "messaging.system",
  messagingDestination: "messaging.destination.name",
  messagingOperation: "messaging.operation.type",
  errorType: "error.type",
  piiText: "hotpin.pii.text",
} as const;
