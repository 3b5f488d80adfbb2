import { connect } from "node:net";
import { Dap1Peer } from "@hotpin/dap1";
import { checkReplyWav } from "./reply-wav";

/** DAWN's client takes at most this much reply (docs/protocols/dap1.md). */
export const DAP1_MAX_REPLY_BYTES = 960_000;

export interface Dap1DeviceOptions {
  host: string;
  port: number;
  /** The whole WAV the device sends (44-byte header, 16 kHz mono 16-bit). */
  wav: Buffer;
  /** Longest wait for the first reply packet; the DAWN client waits 30 s. */
  firstReplyTimeoutMs?: number;
  /** Local address to connect from (a fleet on one machine: 127.0.0.2, 127.0.0.3, …). */
  localAddress?: string;
}

export interface Dap1Result {
  reply: Buffer;
  /** From the last chunk of the upload acknowledged to the whole reply received. */
  replyMs: number;
  /** From the last chunk of the upload acknowledged to the reply's first packet. */
  firstPacketMs: number;
}

/**
 * One DAWN ESP32 exchange over DAP1: connect, handshake, send the WAV chunk by chunk, receive the
 * reply WAV (refused past the client's size limit), and check it as the HotPin devices are checked:
 * a canonical 44-byte header whose data size is the real byte count.
 */
export async function runDap1Device(options: Dap1DeviceOptions): Promise<Dap1Result> {
  const socket = connect({
    port: options.port,
    host: options.host,
    ...(options.localAddress ? { localAddress: options.localAddress } : {}),
  });
  socket.setNoDelay(true);
  try {
    const peer = new Dap1Peer(socket);
    await peer.handshake({ attempts: 3, waitMs: 5_000 });
    await peer.send(options.wav, { ackTimeoutMs: 2_000, attempts: 5 });
    const sent = Date.now();
    let firstPacketMs = 0;
    const reply = await peer.receive({
      maxBytes: DAP1_MAX_REPLY_BYTES,
      firstChunkTimeoutMs: options.firstReplyTimeoutMs ?? 30_000,
      chunkTimeoutMs: 5_000,
      onFirstChunk: () => {
        firstPacketMs = Date.now() - sent;
      },
    });
    checkReplyWav(reply);
    return { reply, replyMs: Date.now() - sent, firstPacketMs };
  } finally {
    socket.destroy();
  }
}
