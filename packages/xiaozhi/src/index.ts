export * from "./binary";
export * from "./connect";
export { type Json, XiaozhiProtocolError } from "./errors";
export * from "./messages";
export * from "./ota";
