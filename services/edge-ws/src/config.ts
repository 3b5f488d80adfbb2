import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { bool, int, list, num, oneOf, readConfig, runtimeSettings, secret, str } from "@hotpin/runtime";
import { listenerSettings } from "@hotpin/vad";

/** Every setting of the edge; the README lists them with these doc strings. */
export const edgeSettings = {
  ...runtimeSettings("edge", { port: 8000, metricsPort: 9464, host: "0.0.0.0" }),
  instance: str("HOTPIN_EDGE_INSTANCE", `${hostname()}-${process.pid}`, "name of this edge replica in events"),
  publicUrl: str(
    "HOTPIN_EDGE_PUBLIC_URL",
    "",
    "base URL devices reach the edge at, for download links; empty: relative",
  ),
  sttAddress: str("HOTPIN_STT_ADDRESS", "127.0.0.1:50051", "speech-to-text service, host:port"),
  llmAddress: str("HOTPIN_LLM_ADDRESS", "127.0.0.1:50052", "language model service, host:port"),
  ttsAddress: str("HOTPIN_TTS_ADDRESS", "127.0.0.1:50053", "text-to-speech service, host:port"),
  storageAddress: str("HOTPIN_STORAGE_ADDRESS", "127.0.0.1:50054", "storage service, host:port"),
  // Auth
  auth: bool("HOTPIN_AUTH", true, "device authentication; only an explicit off/false disables it"),
  deviceTokens: list("HOTPIN_DEVICE_TOKENS", "static device tokens accepted for any device, comma separated"),
  tokenSecret: secret(
    "HOTPIN_TOKEN_SECRET",
    "secret device tokens (JWT, HS256) are signed with: at least 32 characters, 10 different",
  ),
  tokenPreviousSecrets: list(
    "HOTPIN_TOKEN_PREVIOUS_SECRETS",
    "older token secrets still accepted while devices move to tokens of the current one, comma separated",
  ),
  tokenTtlSec: int("HOTPIN_EDGE_TOKEN_TTL_SEC", 30 * 86_400, "lifetime of tokens issued by hotpin-edge-token", {
    min: 60,
  }),
  tokenMaxTtlSec: int(
    "HOTPIN_EDGE_TOKEN_MAX_TTL_SEC",
    90 * 86_400,
    "longest lifetime (exp − iat) a device token may have; longer ones are refused at check time",
    { min: 60 },
  ),
  allowWellKnownTokens: bool(
    "HOTPIN_EDGE_ALLOW_WELL_KNOWN_TOKENS",
    false,
    "accept well-known default static tokens such as the firmware's your_api_token_here",
  ),
  printToken: bool(
    "HOTPIN_EDGE_PRINT_TOKEN",
    false,
    "also print a demo device token signed with the configured secret at start-up (one from an ephemeral development secret is always printed)",
  ),
  demoDevice: str("HOTPIN_EDGE_DEMO_DEVICE", "esp32-cam-hotpin", "device id of the token printed at start-up"),
  // Connections and frames
  maxConnections: int("HOTPIN_EDGE_MAX_CONNECTIONS", 500, "device sockets this process accepts at once", { min: 1 }),
  maxHttpConnections: int(
    "HOTPIN_EDGE_MAX_HTTP_CONNECTIONS",
    1_000,
    "TCP connections the HTTP server holds at once (sockets, uploads, observers, downloads); more are dropped",
    { min: 1 },
  ),
  maxPendingPerAddress: int(
    "HOTPIN_EDGE_MAX_PENDING_PER_ADDRESS",
    16,
    "device sockets from one address that have not identified their device yet",
    { min: 1 },
  ),
  maxPendingPerToken: int(
    "HOTPIN_EDGE_MAX_PENDING_PER_TOKEN",
    32,
    "device sockets with one token that have not identified their device yet",
    { min: 1 },
  ),
  headersTimeoutMs: int(
    "HOTPIN_EDGE_HEADERS_TIMEOUT_MS",
    5_000,
    "longest an HTTP client may take to send its headers",
    {
      min: 500,
    },
  ),
  maxFrameBytes: int("HOTPIN_EDGE_MAX_FRAME_BYTES", 65_536, "largest WebSocket message; larger closes with 1009", {
    min: 4_096,
  }),
  maxChunkBytes: int("HOTPIN_EDGE_MAX_CHUNK_BYTES", 32_000, "largest spec audio chunk (hello may lower it)", {
    min: 2,
  }),
  maxMessagesPerSec: int("HOTPIN_EDGE_MAX_MESSAGES_PER_SEC", 200, "messages a device may send per second", {
    min: 10,
  }),
  detectMs: int("HOTPIN_EDGE_DETECT_MS", 1_500, "wait for a first frame before assuming the spec dialect", {
    min: 0,
  }),
  firstFrameTimeoutMs: int("HOTPIN_EDGE_FIRST_FRAME_TIMEOUT_MS", 5_000, "close a socket with no handshake after", {
    min: 100,
  }),
  pingIntervalMs: int("HOTPIN_EDGE_PING_INTERVAL_MS", 20_000, "WebSocket ping period to find dead peers", {
    min: 100,
  }),
  // Recording
  ackEvery: int("HOTPIN_EDGE_ACK_EVERY", 2, "acknowledge every Nth audio chunk", { min: 1, max: 16 }),
  chunkTimeoutMs: int("HOTPIN_EDGE_CHUNK_TIMEOUT_MS", 5_000, "no chunk this long while recording: spec stalls", {
    min: 100,
  }),
  firmwareSilenceMs: int("HOTPIN_EDGE_FIRMWARE_SILENCE_MS", 3_000, "firmware quiet mid-recording: process it", {
    min: 100,
  }),
  maxRecordingMs: int("HOTPIN_EDGE_MAX_RECORDING_MS", 60_000, "longest recording; longer is cut and processed", {
    min: 1_000,
  }),
  maxSeqGap: int("HOTPIN_EDGE_MAX_SEQ_GAP", 4, "missing spec chunks tolerated; more asks for a re-record", {
    min: 0,
  }),
  memoryAudioBytes: int("HOTPIN_EDGE_MEMORY_AUDIO_BYTES", 32 * 1024, "recording kept in memory before spilling", {
    min: 0,
  }),
  spillDir: str("HOTPIN_EDGE_SPILL_DIR", join(tmpdir(), "hotpin-edge"), "folder for recordings spilled to disk"),
  sessionDiskBytes: int("HOTPIN_EDGE_SESSION_DISK_BYTES", 100 * 1024 * 1024, "disk quota per session", { min: 0 }),
  // Re-record policy
  minConfidence: num(
    "HOTPIN_EDGE_MIN_CONFIDENCE",
    0.5,
    "transcripts below this confidence are re-recorded (push-to-talk dialects; always-listening sessions answer them)",
    {
      min: 0,
      max: 1,
    },
  ),
  minDurationMs: int("HOTPIN_EDGE_MIN_DURATION_MS", 500, "recordings shorter than this are re-recorded", { min: 0 }),
  silenceRms: num("HOTPIN_EDGE_SILENCE_RMS", 50, "recordings quieter (RMS) than this are silence", { min: 0 }),
  loudRms: num("HOTPIN_EDGE_LOUD_RMS", 5_000, "recordings louder (RMS) than this are too loud", { min: 1 }),
  maxClippingRatio: num("HOTPIN_EDGE_MAX_CLIPPING_RATIO", 0.05, "share of clipped samples that is too much", {
    min: 0,
    max: 1,
  }),
  maxRerecords: int("HOTPIN_EDGE_MAX_RERECORDS", 2, "re-record requests per utterance before intervention", {
    min: 0,
  }),
  // Reply
  playbackReadyTimeoutMs: int("HOTPIN_EDGE_PLAYBACK_READY_TIMEOUT_MS", 5_000, "spec: wait for ready_for_playback", {
    min: 100,
  }),
  downloadTtlSec: int("HOTPIN_EDGE_DOWNLOAD_TTL_SEC", 300, "lifetime of offer_download links", { min: 10 }),
  maxReplyMs: int("HOTPIN_EDGE_MAX_REPLY_MS", 30_000, "longest spoken reply; later sentences are dropped", {
    min: 1_000,
  }),
  playbackLeadMs: int("HOTPIN_EDGE_PLAYBACK_LEAD_MS", 5_000, "audio sent ahead of real time (firmware buffer)", {
    min: 100,
  }),
  sendHighWaterBytes: int("HOTPIN_EDGE_SEND_HIGH_WATER_BYTES", 64 * 1024, "socket bytes queued before pausing", {
    min: 4_096,
  }),
  sttTimeoutMs: int("HOTPIN_EDGE_STT_TIMEOUT_MS", 15_000, "deadline for the final transcript after the stop", {
    min: 100,
  }),
  refusedRetries: int(
    "HOTPIN_EDGE_REFUSED_RETRIES",
    20,
    "retries of an STT stream, STT file or TTS call refused as busy/unavailable (within the stage deadline)",
    { min: 0, max: 100 },
  ),
  retryBaseMs: int("HOTPIN_EDGE_RETRY_BASE_MS", 100, "first backoff of such a retry; doubles, full jitter", { min: 1 }),
  retryMaxMs: int("HOTPIN_EDGE_RETRY_MAX_MS", 1_000, "longest backoff of such a retry", { min: 1 }),
  llmTimeoutMs: int("HOTPIN_EDGE_LLM_TIMEOUT_MS", 60_000, "deadline for the whole answer", { min: 100 }),
  ttsTimeoutMs: int("HOTPIN_EDGE_TTS_TIMEOUT_MS", 20_000, "deadline for one sentence's speech", { min: 100 }),
  storageTimeoutMs: int("HOTPIN_EDGE_STORAGE_TIMEOUT_MS", 3_000, "deadline for storage calls", { min: 100 }),
  historyTurns: int("HOTPIN_EDGE_HISTORY_TURNS", 0, "turns of history sent to the LLM; 0: storage's limit", {
    min: 0,
  }),
  historyMaxChars: int(
    "HOTPIN_EDGE_HISTORY_MAX_CHARS",
    8_000,
    "characters of history sent to the LLM; the oldest turns beyond are left out",
    { min: 0 },
  ),
  // Camera images (POST /image)
  imageMaxBytes: int("HOTPIN_EDGE_IMAGE_MAX_BYTES", 5 * 1024 * 1024, "largest image upload; larger gets 413", {
    min: 1024,
  }),
  imageMaxPixels: int("HOTPIN_EDGE_IMAGE_MAX_PIXELS", 20_000_000, "most pixels (width × height) an upload may have", {
    min: 1,
  }),
  imageMaxDimension: int("HOTPIN_EDGE_IMAGE_MAX_DIMENSION", 1_024, "longest side of the image sent to the LLM", {
    min: 16,
    max: 8_192,
  }),
  imageThumbnailPx: int("HOTPIN_EDGE_IMAGE_THUMBNAIL_PX", 160, "longest side of the stored thumbnail", {
    min: 16,
    max: 1_024,
  }),
  imageTtlSec: int("HOTPIN_EDGE_IMAGE_TTL_SEC", 600, "an uploaded image waits this long for the next question", {
    min: 10,
  }),
  imageUploadsAtOnce: int("HOTPIN_EDGE_IMAGE_UPLOADS_AT_ONCE", 4, "image uploads this process handles at once", {
    min: 1,
  }),
  imageUploadTimeoutMs: int(
    "HOTPIN_EDGE_IMAGE_UPLOAD_TIMEOUT_MS",
    20_000,
    "longest one image upload may take to arrive; slower ones get 408 and free their slot",
    { min: 500 },
  ),
  downloadsPerMinute: int(
    "HOTPIN_EDGE_DOWNLOADS_PER_MINUTE",
    60,
    "GET /download requests one address may make a minute",
    { min: 1 },
  ),
  imageUploadsPerMinute: int("HOTPIN_EDGE_IMAGE_UPLOADS_PER_MINUTE", 12, "image uploads one device may make a minute", {
    min: 1,
  }),
  // Device commands and ownership across replicas
  ownershipLeaseMs: int(
    "HOTPIN_EDGE_OWNERSHIP_LEASE_MS",
    30_000,
    "device ownership lease in NATS KV; renewed every third of it, lost after it",
    { min: 3_000 },
  ),
  kvReplicas: int(
    "HOTPIN_EDGE_KV_REPLICAS",
    1,
    "replicas of the KV buckets this edge creates (3 on a JetStream cluster)",
    {
      min: 1,
      max: 5,
    },
  ),
  maxSayChars: int("HOTPIN_EDGE_MAX_SAY_CHARS", 1_000, "longest text of a say command", { min: 1 }),
  // Observers (GET /events)
  observerTokens: list(
    "HOTPIN_EDGE_OBSERVER_TOKENS",
    "tokens admitting /events clients to every device (signed device tokens see their own device)",
  ),
  maxObservers: int("HOTPIN_EDGE_MAX_OBSERVERS", 50, "/events clients this process accepts at once", { min: 1 }),
  maxObserversPerToken: int("HOTPIN_EDGE_MAX_OBSERVERS_PER_TOKEN", 4, "/events clients one token may hold open", {
    min: 1,
  }),
  observerHighWaterBytes: int(
    "HOTPIN_EDGE_OBSERVER_HIGH_WATER_BYTES",
    1024 * 1024,
    "bytes queued for a slow /events client before it is closed with 1013",
    { min: 4_096 },
  ),
  // Events
  eventBuffer: int("HOTPIN_EDGE_EVENT_BUFFER", 10_000, "events held while NATS is unreachable; oldest dropped", {
    min: 10,
  }),
  eventConfirmTimeoutMs: int(
    "HOTPIN_EDGE_EVENT_CONFIRM_TIMEOUT_MS",
    2_000,
    "longest a device message waits for the events before it to be stored in JetStream; then it is sent and they stay buffered",
    { min: 0 },
  ),
  // DAWN DAP1 over TCP (docs/protocols/dap1.md): off unless a port is set
  dap1Port: int("HOTPIN_EDGE_DAP1_PORT", 0, "TCP port for DAWN DAP1 clients (5000 by convention); 0: off", {
    min: 0,
    max: 65_535,
  }),
  dap1AllowedNetworks: list(
    "HOTPIN_EDGE_DAP1_ALLOWED_NETWORKS",
    "client networks allowed to use DAP1, which carries no credential (CIDR or address, comma separated); required with the port",
  ),
  dap1Devices: list(
    "HOTPIN_EDGE_DAP1_DEVICES",
    "device ids for DAP1 client addresses, address=device-id, comma separated; others are known by their address",
  ),
  dap1MaxConnections: int("HOTPIN_EDGE_DAP1_MAX_CONNECTIONS", 64, "DAP1 connections this process holds at once", {
    min: 1,
  }),
  dap1MaxExchanges: int(
    "HOTPIN_EDGE_DAP1_MAX_EXCHANGES",
    16,
    "DAP1 exchanges processed at once; beyond, the client hears a spoken 'busy'",
    { min: 1 },
  ),
  dap1HandshakeTimeoutMs: int(
    "HOTPIN_EDGE_DAP1_HANDSHAKE_TIMEOUT_MS",
    5_000,
    "close a DAP1 client without handshake after",
    {
      min: 100,
    },
  ),
  dap1IdleTimeoutMs: int(
    "HOTPIN_EDGE_DAP1_IDLE_TIMEOUT_MS",
    10_000,
    "close a DAP1 client that sends no audio this long after its handshake",
    { min: 100 },
  ),
  dap1TransferTimeoutMs: int(
    "HOTPIN_EDGE_DAP1_TRANSFER_TIMEOUT_MS",
    15_000,
    "close a DAP1 client that stops mid-upload this long (its retries take up to 13 s)",
    { min: 100 },
  ),
  dap1AckTimeoutMs: int("HOTPIN_EDGE_DAP1_ACK_TIMEOUT_MS", 5_000, "wait for the client's ACK of a reply chunk", {
    min: 100,
  }),
  dap1FirstReplyMs: int(
    "HOTPIN_EDGE_DAP1_FIRST_REPLY_MS",
    25_000,
    "after the upload, answer a spoken 'taking too long' if no reply started by then (the client waits 30 s)",
    { min: 1_000, max: 29_000 },
  ),
  // xiaozhi-esp32 (docs/protocols/xiaozhi.md): OTA/activation on /xiaozhi/ota/, sockets on /xiaozhi/v1/
  xiaozhiWsUrl: str(
    "HOTPIN_EDGE_XIAOZHI_WS_URL",
    "",
    "websocket.url handed to xiaozhi devices in the OTA reply; empty: HOTPIN_EDGE_PUBLIC_URL, else the request's Host, + /xiaozhi/v1/",
  ),
  xiaozhiDevices: list(
    "HOTPIN_EDGE_XIAOZHI_DEVICES",
    "pre-registered xiaozhi device ids (Wi-Fi MACs, lowercase with colons), bound without an activation code, comma separated",
  ),
  xiaozhiCodeTtlSec: int("HOTPIN_EDGE_XIAOZHI_CODE_TTL_SEC", 600, "lifetime of an activation code", {
    min: 30,
    max: 86_400,
  }),
  xiaozhiCodesPerMinute: int(
    "HOTPIN_EDGE_XIAOZHI_CODES_PER_MINUTE",
    6,
    "new activation codes one address may be given a minute (a device keeps its code while it is valid)",
    { min: 1 },
  ),
  xiaozhiRequestsPerMinute: int(
    "HOTPIN_EDGE_XIAOZHI_REQUESTS_PER_MINUTE",
    120,
    "OTA and activation requests one address may make a minute (a device polls /activate every 3 s)",
    { min: 1 },
  ),
  xiaozhiTimezoneOffsetMin: int(
    "HOTPIN_EDGE_XIAOZHI_TIMEZONE_OFFSET_MIN",
    0,
    "server_time.timezone_offset (minutes east of UTC) for the devices' clocks",
    { min: -720, max: 840 },
  ),
  xiaozhiIdleMs: int(
    "HOTPIN_EDGE_XIAOZHI_IDLE_MS",
    120_000,
    "close a xiaozhi socket after this long without a message either way (the firmware counts 120 s)",
    { min: 1_000 },
  ),
  xiaozhiOpusComplexity: int("HOTPIN_EDGE_XIAOZHI_OPUS_COMPLEXITY", 5, "Opus encoder complexity of replies", {
    min: 0,
    max: 10,
  }),
  xiaozhiOpusBitrate: int("HOTPIN_EDGE_XIAOZHI_OPUS_BITRATE", 24_000, "Opus bitrate of replies, bit/s", {
    min: 6_000,
    max: 128_000,
  }),
  xiaozhiBurstFrames: int(
    "HOTPIN_EDGE_XIAOZHI_BURST_FRAMES",
    5,
    "reply packets sent at once before pacing one per frame time (the reference server's 5)",
    { min: 0, max: 30 },
  ),
  // Always-listening devices (the `vad` turn detector, barge-in): packages/vad README
  ...listenerSettings,
  wakeWords: oneOf(
    "HOTPIN_EDGE_WAKE_WORDS",
    ["off", "events", "required"],
    "off",
    "wake words on always-listening sessions (STT keyphrase spotting): off; events (each detection a wake_word event); required (also: a turn is answered only after one)",
  ),
  wakeWindowMs: int(
    "HOTPIN_EDGE_WAKE_WINDOW_MS",
    10_000,
    "with wake words required: a turn is answered if its end of speech is this soon after a wake word",
    { min: 1_000, max: 120_000 },
  ),
  wakeGraceMs: int(
    "HOTPIN_EDGE_WAKE_GRACE_MS",
    500,
    "with wake words required: how long a turn waits after its end of speech for a late detection",
    { min: 0, max: 5_000 },
  ),
  sesameLeadMs: int(
    "HOTPIN_EDGE_SESAME_LEAD_MS",
    120,
    "reply audio a Sesame-style client may have queued (it plays what arrives): more rides out jitter, less stops a barge-in sooner",
    { min: 20, max: 2_000 },
  ),
  drainTimeoutMs: int("HOTPIN_EDGE_DRAIN_TIMEOUT_MS", 20_000, "on SIGTERM, wait this long for utterances", {
    min: 0,
  }),
};

export type EdgeConfig = ReturnType<typeof readEdgeConfig>;

export function readEdgeConfig(env: NodeJS.ProcessEnv = process.env) {
  return readConfig(edgeSettings, env);
}
