// One namespace per protobuf package, so same-named messages in different packages stay apart.
export * as health from "./gen/grpc/health/v1/health";
export * as edge from "./gen/hotpin/edge/v1/commands";
export * as events from "./gen/hotpin/events/v1/events";
export * as llm from "./gen/hotpin/llm/v1/llm";
export * as storage from "./gen/hotpin/storage/v1/storage";
export * as stt from "./gen/hotpin/stt/v1/stt";
export * as tts from "./gen/hotpin/tts/v1/tts";
