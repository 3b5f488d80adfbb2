import { setTimeout as sleep } from "node:timers/promises";
import { runDevice } from "./run-device";
import { type Percentiles, percentiles } from "./stats";
import type { TimelineEvent } from "./timeline";
import type { DeviceOptions, DeviceResult } from "./types";

export interface FleetOptions extends Omit<DeviceOptions, "deviceId" | "onEvent"> {
  devices: number;
  /** Device ids are `<prefix>-001`, `<prefix>-002`, … */
  deviceIdPrefix: string;
  /** Device i starts i × staggerMs after the first. Default 100 ms. */
  staggerMs?: number;
  onEvent?: (deviceId: string, e: TimelineEvent) => void;
}

export interface FleetResult {
  devices: DeviceResult[];
  ok: number;
  failed: number;
  /** End of speech → first reply audio byte, over every utterance of every device. */
  firstAudioMs: Percentiles;
  /** Chunk → ACK latency as the devices measured it. */
  ackLatencyMs: Percentiles;
  wallMs: number;
}

export function fleetDeviceId(prefix: string, index: number): string {
  return `${prefix}-${String(index + 1).padStart(3, "0")}`;
}

/** Runs `devices` simulated devices concurrently with staggered starts and summarises them. */
export async function runFleet(options: FleetOptions): Promise<FleetResult> {
  const { devices, deviceIdPrefix, staggerMs = 100, onEvent, ...device } = options;
  const started = performance.now();
  const results = await Promise.all(
    Array.from({ length: devices }, async (_, i) => {
      const deviceId = fleetDeviceId(deviceIdPrefix, i);
      if (i > 0 && staggerMs > 0) await sleep(i * staggerMs);
      return runDevice({ ...device, deviceId, ...(onEvent ? { onEvent: (e) => onEvent(deviceId, e) } : {}) });
    }),
  );
  const ok = results.filter((r) => r.ok).length;
  return {
    devices: results,
    ok,
    failed: results.length - ok,
    firstAudioMs: percentiles(results.flatMap((r) => r.firstAudioMs)),
    ackLatencyMs: percentiles(results.flatMap((r) => r.ackLatenciesMs)),
    wallMs: performance.now() - started,
  };
}
