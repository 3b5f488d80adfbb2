export * from "./sesame";
