import { EventEmitter } from "node:events";
import type { stt } from "@hotpin/contracts";
import { createLogger, createRegistry } from "@hotpin/runtime";
import { readEdgeConfig } from "../config";
import type { EventPayload, EventSink } from "../events";
import type { PendingImages } from "../images/pending-images";
import { createEdgeMetrics } from "../metrics";
import type { Apologies } from "../pipeline/apologies";
import type { Services } from "../pipeline/services";
import { DeviceRegistry } from "./devices";
import type { SessionDeps } from "./session";

/**
 * An STT peer in memory: RecognizeRequests are kept, and the half-close is answered with a final
 * (what the STT service's Recognize does), so a session's parts run without sockets.
 */
export function memoryStt(transcript = "hello") {
  const requests: stt.RecognizeRequest[] = [];
  const client = {
    recognize() {
      const call = Object.assign(new EventEmitter(), {
        write: (req: stt.RecognizeRequest) => void requests.push(req),
        end: () =>
          queueMicrotask(() => {
            call.emit("data", { result: { $case: "final", value: { text: transcript, confidence: 0.9 } } });
            call.emit("end");
          }),
        cancel: () => queueMicrotask(() => call.emit("end")),
      });
      return call;
    },
  };
  return { client: client as unknown as stt.SpeechToTextClient, requests };
}

/** What a session is built with, in memory: events kept (and confirmed at once), no other service called. */
export function memoryDeps(env: NodeJS.ProcessEnv = {}) {
  const published: { deviceId: string; payload: EventPayload }[] = [];
  const events: EventSink = {
    publish: (deviceId, _sessionId, payload) => void published.push({ deviceId, payload }),
    confirm: async () => true,
  };
  // Any other call fails at once, as a service that is down would.
  const down = new Proxy(
    {},
    {
      get:
        (_t, name) =>
        (...args: unknown[]) => {
          const done = args.at(-1);
          if (typeof done === "function") queueMicrotask(() => done(new Error(`${String(name)}: no such peer here`)));
        },
    },
  );
  const cleared: string[] = [];
  const images = { clear: async (deviceId: string) => void cleared.push(deviceId) };
  const deps: SessionDeps = {
    cfg: readEdgeConfig(env),
    services: { stt: memoryStt().client, llm: down, tts: down, storage: down } as unknown as Services,
    apologies: { get: async () => undefined } as unknown as Apologies,
    events,
    metrics: createEdgeMetrics(createRegistry("edge")),
    log: createLogger("session-test", "silent"),
    devices: new DeviceRegistry(),
    images: images as unknown as PendingImages,
  };
  /** The payload types published for a device, in order. */
  const types = (deviceId: string) => published.filter((e) => e.deviceId === deviceId).map((e) => e.payload.$case);
  return { deps, published, types, cleared };
}
