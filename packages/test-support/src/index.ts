export { freePort } from "@hotpin/mesh";
export * from "./fake-groq";
export * from "./mesh";
export * from "./nats";
export * from "./otlp-collector";
export * from "./proc";
export * from "./speech";
export * from "./stats";
