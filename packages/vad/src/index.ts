export * from "./barge-in";
export * from "./frames";
export * from "./listener";
export * from "./turn-detector";
export * from "./webrtc-vad";
