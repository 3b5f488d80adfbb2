export * from "./barge-in";
export * from "./frames";
export * from "./listener";
export * from "./settings";
export * from "./turn-detector";
export * from "./webrtc-vad";
