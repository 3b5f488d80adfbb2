// The workspace's public entry for other workspaces: the canonical WAV helpers.
export * from "./wav";
