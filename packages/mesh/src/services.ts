/** The processes of the mesh, in start order, with their default ports. */
export interface ServiceSpec {
  name: "storage" | "stt" | "llm" | "tts" | "edge" | "console";
  /** Workspace folder, relative to the repository root. */
  dir: string;
  /** Prefix of the service's settings: HOTPIN_<env>_PORT, HOTPIN_<env>_METRICS_PORT, HOTPIN_<env>_HOST. */
  env: string;
  port: number;
  metricsPort: number;
}

export const SERVICES: readonly ServiceSpec[] = [
  { name: "storage", dir: "services/storage", env: "STORAGE", port: 50054, metricsPort: 9468 },
  { name: "stt", dir: "services/stt", env: "STT", port: 50051, metricsPort: 9465 },
  { name: "llm", dir: "services/llm", env: "LLM", port: 50052, metricsPort: 9466 },
  { name: "tts", dir: "services/tts", env: "TTS", port: 50053, metricsPort: 9467 },
  { name: "edge", dir: "services/edge-ws", env: "EDGE", port: 8000, metricsPort: 9464 },
  // The operator console: reads NATS and storage, never in the devices' path; stopped first.
  { name: "console", dir: "services/console", env: "CONSOLE", port: 8090, metricsPort: 9469 },
];

export type ServiceName = ServiceSpec["name"];
