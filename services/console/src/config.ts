import { ConfigError, int, list, port, readConfig, runtimeSettings, secret, str } from "@hotpin/runtime";

/** Every setting of the console; the README lists them with their defaults. */
export const consoleSettings = {
  ...runtimeSettings("console", { port: 8090, metricsPort: 9469 }),
  operatorTokens: {
    ...list("HOTPIN_CONSOLE_OPERATOR_TOKENS", "operator tokens accepted at sign-in, comma separated (required)"),
    secret: true,
  },
  tokenSecret: secret(
    "HOTPIN_TOKEN_SECRET",
    "HMAC secret the edge checks signed device tokens with; empty: the console cannot issue device tokens",
  ),
  storageAddress: str("HOTPIN_STORAGE_ADDRESS", "127.0.0.1:50054", "storage service, host:port"),
  edgeWsUrl: str(
    "HOTPIN_CONSOLE_EDGE_WS_URL",
    "",
    "the edge's device socket as browsers reach it (ws://host:port/ws); empty: the console's host, port HOTPIN_EDGE_PORT",
  ),
  edgePort: port("HOTPIN_EDGE_PORT", 8000, "the edge's port, for the default HOTPIN_CONSOLE_EDGE_WS_URL"),
  edgeMetricsUrls: list(
    "HOTPIN_CONSOLE_EDGE_METRICS_URLS",
    "the edge replicas' /metrics URLs the latency charts are computed from, comma separated; empty: http://127.0.0.1:HOTPIN_EDGE_METRICS_PORT/metrics",
  ),
  edgeMetricsPort: port(
    "HOTPIN_EDGE_METRICS_PORT",
    9464,
    "the edge's metrics port, for the default HOTPIN_CONSOLE_EDGE_METRICS_URLS",
  ),
  scrapeIntervalMs: int("HOTPIN_CONSOLE_SCRAPE_INTERVAL_MS", 5000, "how often the edge metrics are read", {
    min: 500,
  }),
  latencyWindowMs: int("HOTPIN_CONSOLE_LATENCY_WINDOW_MS", 60_000, "each chart point covers replies in this window", {
    min: 1000,
  }),
  latencyPoints: int("HOTPIN_CONSOLE_LATENCY_POINTS", 360, "chart points kept (at the scrape interval)", {
    min: 10,
    max: 10_000,
  }),
  sessionTtlSec: int("HOTPIN_CONSOLE_SESSION_TTL_SEC", 12 * 3600, "an operator's sign-in lasts this long", { min: 60 }),
  maxSessions: int("HOTPIN_CONSOLE_MAX_SESSIONS", 100, "signed-in browsers at once; the oldest is signed out", {
    min: 1,
  }),
  signInFailuresPerMinute: int(
    "HOTPIN_CONSOLE_SIGNIN_FAILURES_PER_MINUTE",
    10,
    "wrong operator tokens accepted per minute (all clients) before sign-in answers 429",
    { min: 1 },
  ),
  deviceTokenTtlSec: int("HOTPIN_CONSOLE_DEVICE_TOKEN_TTL_SEC", 30 * 86_400, "lifetime of device tokens issued", {
    min: 60,
  }),
  virtualTokenTtlSec: int("HOTPIN_CONSOLE_VIRTUAL_TOKEN_TTL_SEC", 3600, "lifetime of a virtual device's token", {
    min: 60,
  }),
  devices: list("HOTPIN_CONSOLE_DEVICES", "pre-registered device ids, shown on the activation page"),
  maxPendingCodes: int(
    "HOTPIN_CONSOLE_MAX_PENDING_CODES",
    200,
    "xiaozhi activation codes listed (newest first); older waiting codes can still be bound by typing them",
    { min: 1, max: 10_000 },
  ),
  maxBoundDevices: int("HOTPIN_CONSOLE_MAX_BOUND_DEVICES", 2000, "bound xiaozhi devices listed (newest first)", {
    min: 1,
    max: 100_000,
  }),
  maxDevices: int("HOTPIN_CONSOLE_MAX_DEVICES", 10_000, "devices the fleet view tracks; the longest gone are dropped", {
    min: 1,
  }),
  timelineEvents: int("HOTPIN_CONSOLE_TIMELINE_EVENTS", 200, "events kept per device for its live timeline", {
    min: 10,
    max: 10_000,
  }),
  maxLiveClients: int("HOTPIN_CONSOLE_MAX_LIVE_CLIENTS", 50, "browser live streams (/api/live) at once", { min: 1 }),
  liveHighWaterBytes: int(
    "HOTPIN_CONSOLE_LIVE_HIGH_WATER_BYTES",
    1024 * 1024,
    "bytes queued for a slow live stream before it is closed (the browser reconnects)",
    { min: 1024 },
  ),
  commandTimeoutMs: int("HOTPIN_CONSOLE_COMMAND_TIMEOUT_MS", 60_000, "wait this long for a device command's answer", {
    min: 100,
  }),
  storageTimeoutMs: int("HOTPIN_CONSOLE_STORAGE_TIMEOUT_MS", 3000, "deadline for storage calls", { min: 100 }),
  thumbnailMaxBytes: int("HOTPIN_CONSOLE_THUMBNAIL_MAX_BYTES", 512 * 1024, "largest thumbnail served", { min: 1024 }),
  maxSayChars: int("HOTPIN_CONSOLE_MAX_SAY_CHARS", 1000, "longest text of a say command", { min: 1 }),
  webDir: str("HOTPIN_CONSOLE_WEB_DIR", "", "folder of the built front end; empty: dist/web next to the code"),
};

export type ConsoleConfig = ReturnType<typeof readConsoleConfig>;

export function readConsoleConfig(env: NodeJS.ProcessEnv = process.env) {
  const cfg = readConfig(consoleSettings, env);
  // Secure by default: no console without an operator token, and none short enough to guess.
  if (cfg.operatorTokens.length === 0) {
    throw new ConfigError(["HOTPIN_CONSOLE_OPERATOR_TOKENS: required — operator tokens accepted at sign-in"]);
  }
  if (cfg.operatorTokens.some((t) => t.length < 16)) {
    throw new ConfigError(["HOTPIN_CONSOLE_OPERATOR_TOKENS: every token must be at least 16 characters"]);
  }
  if (cfg.edgeMetricsUrls.length === 0) cfg.edgeMetricsUrls = [`http://127.0.0.1:${cfg.edgeMetricsPort}/metrics`];
  return cfg;
}
