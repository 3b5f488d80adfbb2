export * from "./launch";
export * from "./nats-server";
export * from "./ports";
export * from "./services";
