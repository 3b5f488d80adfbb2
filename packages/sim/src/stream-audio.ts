import { setTimeout as sleep } from "node:timers/promises";
import { pcmDurationMs } from "@hotpin/audio";
import type { AckWindow } from "./ack-window";
import type { DeviceSocket, Incoming } from "./device-socket";
import { ServerTimeoutError } from "./errors";
import type { Timeline } from "./timeline";

export type Pacing = "realtime" | "fast";

export interface StreamTuning {
  /** "realtime": a chunk leaves no earlier than the microphone could have captured it; "fast": as ACKs allow. */
  pacing: Pacing;
  /** Pause after each send (the firmware sleeps 20 ms). */
  chunkPauseMs: number;
  /** The device blocks while this many chunks are unacknowledged (firmware: 2). */
  maxUnacked: number;
  /** Blocked longer than this without an ACK, the device aborts the stream (firmware: 1000 ms). */
  ackTimeoutMs: number;
}

export interface StreamHooks {
  sendChunk(chunk: Buffer, index: number): Promise<void>;
  /** Handles a frame that arrived while streaming; returns true to stop streaming (e.g. a re-record request). */
  onMessage(m: Incoming): boolean;
}

export interface StreamOutcome {
  chunksSent: number;
  bytesSent: number;
  /** The device gave up waiting for an ACK. */
  aborted: boolean;
  /** The server asked the device to stop (hooks.onMessage returned true). */
  stopped: boolean;
}

/**
 * Sends an utterance's chunks under the device's flow control: never more than `maxUnacked`
 * chunks in flight, abort when an ACK does not come in time. The caller sends the end-of-speech
 * message afterwards in every case, as the firmware does.
 */
export async function streamAudio(
  sock: DeviceSocket,
  chunks: readonly Buffer[],
  window: AckWindow,
  tuning: StreamTuning,
  hooks: StreamHooks,
  timeline: Timeline,
): Promise<StreamOutcome> {
  const outcome: StreamOutcome = { chunksSent: 0, bytesSent: 0, aborted: false, stopped: false };
  const start = timeline.now();
  let captured = 0;
  const drain = (): boolean => {
    for (let m = sock.poll(); m; m = sock.poll()) if (hooks.onMessage(m)) return true;
    return false;
  };
  for (let i = 0; i < chunks.length; i++) {
    const chunk = chunks[i]!;
    if (drain()) return { ...outcome, stopped: true };
    if (window.unacked >= tuning.maxUnacked) {
      const deadline = timeline.now() + tuning.ackTimeoutMs;
      while (window.unacked >= tuning.maxUnacked) {
        let m: Incoming;
        try {
          m = await sock.next(Math.max(0, deadline - timeline.now()), "chunk ACK");
        } catch (err) {
          if (!(err instanceof ServerTimeoutError)) throw err;
          timeline.add(
            "note",
            `no ACK within ${tuning.ackTimeoutMs} ms with ${window.unacked} chunks unacknowledged: aborting stream`,
          );
          return { ...outcome, aborted: true };
        }
        if (hooks.onMessage(m)) return { ...outcome, stopped: true };
      }
    }
    captured += chunk.length;
    if (tuning.pacing === "realtime") {
      const due = start + pcmDurationMs(captured) - timeline.now();
      if (due > 0) await sleep(due);
    }
    // Stamped before the send so an ACK can never appear to arrive before its chunk left.
    window.onSent(timeline.now());
    await hooks.sendChunk(chunk, i);
    outcome.chunksSent++;
    outcome.bytesSent += chunk.length;
    if (tuning.chunkPauseMs > 0 && i < chunks.length - 1) await sleep(tuning.chunkPauseMs);
  }
  if (drain()) outcome.stopped = true;
  return outcome;
}
