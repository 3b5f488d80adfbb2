export * from "./framing";
export * from "./peer";
export * from "./transfer";
