import { setTimeout as sleep } from "node:timers/promises";
import { backoffDelayMs } from "./backoff";
import { AuthRejectedError, errorInfo, SimError } from "./errors";
import { FirmwareDevice } from "./firmware-dialect";
import { uploadImage } from "./image-upload";
import { resolveSettings, type Settings } from "./settings";
import { SpecDevice } from "./spec-dialect";
import { chunkPcm } from "./speech-input";
import { Timeline } from "./timeline";
import type { DeviceOptions, DeviceResult, UtteranceResult } from "./types";

type Connection = FirmwareDevice | SpecDevice;

function connect(s: Settings, timeline: Timeline): Promise<Connection> {
  return s.dialect === "firmware" ? FirmwareDevice.connect(s, timeline) : SpecDevice.connect(s, timeline);
}

/**
 * Runs one simulated device: connects, speaks `utterances` times on one connection, and reconnects
 * with exponential backoff when the connection drops before an exchange completes (never after a
 * 401/403). Never throws for server behaviour: failures are in `result.error`.
 */
export async function runDevice(options: DeviceOptions): Promise<DeviceResult> {
  const timeline = new Timeline(options.onEvent);
  const result: DeviceResult = {
    deviceId: options.deviceId,
    dialect: options.dialect,
    ok: false,
    utterances: [],
    connections: 0,
    timeline: timeline.events,
    ackLatenciesMs: [],
    firstAudioMs: [],
  };
  let conn: Connection | undefined;
  try {
    const s = resolveSettings(options);
    const chunks = chunkPcm(options.pcm, s.chunkBytes);
    const { image } = options;
    let failures = 0;
    while (result.utterances.length < s.utterances) {
      const index = result.utterances.length;
      try {
        if (!conn) {
          result.connections++;
          conn = await connect(s, timeline);
        }
        let u: UtteranceResult;
        if (conn instanceof FirmwareDevice) {
          if (image) await uploadImage(s, image, timeline);
          u = await conn.utterance(index, chunks);
        } else {
          u = await conn.utterance(index, chunks, image ? () => uploadImage(s, image, timeline) : undefined);
        }
        result.utterances.push(u);
        failures = 0;
        timeline.add("note", summarizeUtterance(u));
      } catch (err) {
        await conn?.close();
        conn = undefined;
        const retry = err instanceof SimError && err.retryable && !(err instanceof AuthRejectedError);
        if (!retry || failures >= s.retries) throw err;
        const delay = backoffDelayMs(failures, s.backoff);
        failures++;
        timeline.add("note", `${(err as Error).message}; reconnect ${failures}/${s.retries} in ${delay} ms`);
        await sleep(delay);
      }
    }
    result.ok = result.utterances.every((u) => u.outcome === "complete");
  } catch (err) {
    result.error = errorInfo(err);
    timeline.add("note", `FAILED (${result.error.kind}): ${result.error.message}`);
  } finally {
    await conn?.close();
  }
  for (const u of result.utterances) {
    result.ackLatenciesMs.push(...u.ackLatenciesMs);
    if (u.firstAudioMs !== undefined) result.firstAudioMs.push(u.firstAudioMs);
  }
  return result;
}

function summarizeUtterance(u: UtteranceResult): string {
  const parts = [`utterance ${u.index + 1}: ${u.outcome}`, `${u.chunksSent} chunks sent`];
  if (u.streamAborted) parts.push("stream aborted (no ACK)");
  if (u.rerecords.length) parts.push(`${u.rerecords.length} re-records`);
  if (u.firstAudioMs !== undefined) parts.push(`first audio ${u.firstAudioMs.toFixed(1)} ms after end of speech`);
  if (u.replyWav) parts.push(`reply WAV ${u.replyWav.length} B`);
  if (u.serverError) parts.push(`server said: ${u.serverError.message}`);
  return parts.join(", ");
}
