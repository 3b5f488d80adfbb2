export * from "./framing";
export * from "./peer";
