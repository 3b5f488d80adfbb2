export * from "./nats";
