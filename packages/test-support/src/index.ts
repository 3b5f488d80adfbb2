export * from "./fake-groq";
export * from "./nats";
