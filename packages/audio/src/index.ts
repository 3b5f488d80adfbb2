export * from "./opus";
export * from "./resampler";
export * from "./wav";
