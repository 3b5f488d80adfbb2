import { parseWav, toWav, WAV_HEADER_BYTES, WavError } from "@hotpin/audio";
import {
  ACK_PACKET,
  ChunkReceiver,
  FramingError,
  MAGIC,
  NACK_PACKET,
  type Packet,
  PacketParser,
  PacketType,
  sendChunks,
} from "@hotpin/dap1";
import type { EdgeConfig } from "../../config";
import type { ApologyKind } from "../../pipeline/apologies";
import type { ErrorCode, Input, Output } from "../../session/model";
import { oneShot } from "../../session/turn-detectors";
import type { Transport } from "../../transport";
import {
  type Capabilities,
  type Dialect,
  none,
  type Parsed,
  type PlaybackControl,
  type PlaybackResult,
  type PromptSpeech,
  type Reply,
  refuse,
} from "../dialect";

/** The DAWN client reads at most this much reply (docs/protocols/dap1.md "Content and timing"). */
export const DAP1_MAX_REPLY_BYTES = 960_000;
/** NACKs one upload may collect before the client is given up on. */
const MAX_NACKS = 20;

export const DAP1_CAPABILITIES: Capabilities = {
  turn: oneShot,
  inputRate: 16_000,
  outputRate: 16_000,
  bargeIn: false,
  announcesState: false,
  partials: false,
  lateAudio: "drop",
};

/**
 * Errors that end a DAP1 exchange with a spoken reason instead of the answer; any other error
 * (a recording cut at its limit, say) is followed by the answer itself.
 */
const SPOKEN: Partial<Record<ErrorCode, ApologyKind>> = {
  stt_failed: "stt",
  llm_failed: "llm",
  llm_unconfigured: "unconfigured",
  tts_failed: "tts",
  not_understood: "not_understood",
  shutting_down: "restarting",
};

export interface Dap1Options {
  cfg: EdgeConfig;
  speech: PromptSpeech;
  deviceId: string;
}

/**
 * DAWN DAP1 (docs/protocols/dap1.md) over a TCP transport: the handshake is the device's hello,
 * the uploaded WAV streams into the recording chunk by chunk (each chunk ACKed, a bad one
 * NACKed), DATA_END stops it, and the one reply WAV goes back the same way before the
 * connection closes. Prompts cannot be shown, so every failure is answered with speech.
 */
export class Dap1Dialect implements Dialect {
  readonly name = "dap1";
  readonly capabilities = DAP1_CAPABILITIES;
  private readonly parser = new PacketParser();
  private phase: "handshake" | "greeting" | "upload" | "uploaded" | "replying" | "done" = "handshake";
  private readonly receiver = new ChunkReceiver();
  /** Bytes of the upload before its WAV header could be read. */
  private head: Buffer | undefined = Buffer.alloc(0);
  /** An odd byte carried to the next chunk, so PCM16 samples are never split. */
  private carry: Buffer | undefined;
  private audioBytes = 0;
  /** The upload cannot be answered (bad WAV): said once it has ended. */
  private rejected: ApologyKind | undefined;
  /** The session stopped the recording itself (too long): DATA_END is no stop. */
  private stoppedBySession = false;
  private answer: ((p: Packet | undefined) => void) | undefined;
  private answerTimer: NodeJS.Timeout | undefined;
  private deadline: NodeJS.Timeout | undefined;
  private readonly abort = new AbortController();
  private uploadEnded!: () => void;
  /** Replies wait for the upload's end: the client reads nothing while it sends. */
  private readonly uploadEnd = new Promise<void>((resolve) => {
    this.uploadEnded = resolve;
  });

  constructor(
    private readonly transport: Transport,
    private readonly opts: Dap1Options,
  ) {}

  text(): Parsed {
    return refuse("bad_packet", "DAP1 is binary");
  }

  binary(data: Buffer): Parsed {
    let packets: Packet[];
    try {
      packets = this.parser.push(data);
    } catch (err) {
      if (!(err instanceof FramingError)) throw err;
      return this.broken("bad_packet", err.message);
    }
    const inputs: Input[] = [];
    for (const p of packets) {
      const parsed = this.packet(p);
      if ("error" in parsed) return parsed;
      inputs.push(...parsed.inputs);
    }
    return { inputs };
  }

  private packet(p: Packet): Parsed {
    switch (this.phase) {
      case "handshake":
        if (p.type !== PacketType.HANDSHAKE || !p.payload.equals(MAGIC)) {
          return this.broken("bad_handshake", "the first packet must be the DAP1 handshake");
        }
        // The magic is the check: a published example's checksum differs (docs/protocols/dap1.md).
        this.phase = "greeting";
        return { inputs: [{ type: "hello", deviceId: this.opts.deviceId }] };
      case "greeting":
      case "upload":
        if (p.type === PacketType.HANDSHAKE && p.payload.equals(MAGIC)) {
          // The client tries again when our ACK is slow (it waits 3 s): ACK once we have greeted.
          if (this.phase === "upload") this.transport.sendBinary(ACK_PACKET);
          return none;
        }
        return this.chunk(p);
      case "replying":
        if (p.type === PacketType.ACK || p.type === PacketType.NACK) this.answer?.(p);
        return none;
      default:
        return none; // after the upload nothing the client sends matters until the reply
    }
  }

  private chunk(p: Packet): Parsed {
    if (p.type !== PacketType.DATA && p.type !== PacketType.DATA_END) {
      return this.broken("bad_packet", `packet type ${p.type} inside the upload`);
    }
    const verdict = this.receiver.accept(p);
    if (verdict.answer === "nack") {
      if (this.receiver.nacks > MAX_NACKS) return this.broken("bad_packet", "too many chunks refused");
      this.transport.sendBinary(NACK_PACKET);
      return none;
    }
    this.transport.sendBinary(ACK_PACKET);
    if (verdict.answer === "ack-again") return none;
    const pcm = this.rejected ? undefined : this.pcm(verdict.payload);
    const inputs: Input[] = [];
    if (pcm && pcm.length > 0) {
      this.audioBytes += pcm.length;
      inputs.push({ type: "audio", pcm });
    }
    if (verdict.end) {
      this.phase = "uploaded";
      if (!this.rejected && this.audioBytes === 0) this.rejected = "not_understood";
      this.uploadEnded();
      if (this.rejected) {
        // Nothing reached the session: the reason is the answer.
        void this.speak(this.rejected);
      } else {
        if (!this.stoppedBySession) inputs.push({ type: "stop_recording" });
        this.deadline = setTimeout(() => void this.speak("too_slow"), this.opts.cfg.dap1FirstReplyMs);
      }
    }
    return { inputs };
  }

  /** The PCM in an upload chunk: the first bytes are the WAV header, checked once complete. */
  private pcm(payload: Buffer): Buffer | undefined {
    let bytes = payload;
    if (this.head) {
      const head = Buffer.concat([this.head, payload]);
      if (head.length < WAV_HEADER_BYTES) {
        this.head = head;
        return undefined;
      }
      this.head = undefined;
      try {
        const wav = parseWav(head);
        const f = wav.format;
        if (f.sampleRate !== 16_000 || f.channels !== 1 || f.bitsPerSample !== 16) {
          throw new WavError(
            `expected 16 kHz mono 16-bit, got ${f.sampleRate} Hz ${f.channels} ch ${f.bitsPerSample} bit`,
          );
        }
        bytes = head.subarray(wav.data.byteOffset - head.byteOffset);
      } catch (err) {
        if (!(err instanceof WavError)) throw err;
        this.rejected = "bad_audio";
        return undefined;
      }
    }
    if (this.carry) bytes = Buffer.concat([this.carry, bytes]);
    this.carry = bytes.length % 2 ? bytes.subarray(bytes.length - 1) : undefined;
    return this.carry ? bytes.subarray(0, bytes.length - 1) : bytes;
  }

  /** A stream that is not DAP1 cannot be answered: closed at once. */
  private broken(code: ErrorCode, message: string): Parsed {
    this.phase = "done";
    this.transport.close("protocol", message);
    return refuse(code, message);
  }

  send(out: Output): void {
    switch (out.type) {
      case "connected":
        if (this.phase === "greeting") this.phase = "upload";
        this.transport.sendBinary(ACK_PACKET);
        return;
      case "processing":
        this.stoppedBySession = this.phase === "upload";
        return;
      case "rerecord":
      case "intervention":
        // Only about this upload: one asked for at connect (an earlier upload cut off) is moot.
        if (this.phase === "uploaded") void this.speak("not_understood");
        return;
      case "error": {
        const kind = SPOKEN[out.code];
        if (kind) void this.speak(kind);
        return;
      }
      default:
        return; // acks are per chunk above; text has no place on this wire
    }
  }

  /**
   * The reply as one WAV under the client's size cap: whole sentences while they fit, the
   * first one cut if it alone is too long.
   */
  async play(reply: Reply, ctl: PlaybackControl): Promise<PlaybackResult> {
    const cap = DAP1_MAX_REPLY_BYTES - WAV_HEADER_BYTES;
    const parts: Buffer[] = [];
    let size = 0;
    for await (const { pcm } of reply.segments) {
      if (size + pcm.length <= cap) {
        parts.push(pcm);
        size += pcm.length;
      } else if (size === 0) {
        parts.push(pcm.subarray(0, cap - (cap % 2)));
        size = cap - (cap % 2);
      }
    }
    await this.uploadEnd;
    if (!this.claim()) return { outcome: "aborted", bytes: 0 };
    const sent = await this.reply(Buffer.concat(parts, size), ctl);
    return { outcome: sent === size ? "played" : "aborted", bytes: sent };
  }

  /** Says one of the fixed phrases as the exchange's reply, then closes. */
  private async speak(kind: ApologyKind): Promise<void> {
    await this.uploadEnd;
    if (!this.claim()) return;
    const pcm = (await this.opts.speech.get(kind)) ?? errorTone();
    await this.reply(pcm);
  }

  /** Takes the connection's one reply, or false when it is given (or the client is gone). */
  private claim(): boolean {
    if (this.phase !== "uploaded" || !this.transport.open) return false;
    this.phase = "replying";
    clearTimeout(this.deadline);
    return true;
  }

  /** The one reply of this connection, then the close; PCM bytes the client acknowledged. */
  private async reply(pcm: Buffer, ctl?: PlaybackControl): Promise<number> {
    const wav = toWav(pcm);
    ctl?.firstAudio();
    const acked = await sendChunks(
      wav,
      (p) => this.transport.sendBinary(p),
      (ms) => this.nextAnswer(ms),
      {
        ackTimeoutMs: this.opts.cfg.dap1AckTimeoutMs,
        attempts: 5,
        signal: this.abort.signal,
        beforeLast: async () => ctl?.beforeDone(Math.max(0, wav.length - WAV_HEADER_BYTES)),
      },
    );
    this.phase = "done";
    if (acked < wav.length) {
      this.transport.close("protocol", "reply not acknowledged");
      return Math.max(0, acked - WAV_HEADER_BYTES);
    }
    this.transport.close("normal", "exchange complete");
    return pcm.length;
  }

  private nextAnswer(timeoutMs: number): Promise<Packet | undefined> {
    return new Promise((resolve) => {
      const done = (p: Packet | undefined) => {
        clearTimeout(this.answerTimer);
        this.answer = undefined;
        resolve(p);
      };
      this.answerTimer = setTimeout(() => done(undefined), timeoutMs);
      this.answer = done;
      if (this.abort.signal.aborted || !this.transport.open) done(undefined);
    });
  }

  dispose(): void {
    this.phase = "done";
    this.uploadEnded();
    this.abort.abort();
    clearTimeout(this.deadline);
    this.answer?.(undefined);
  }
}

/** Said when no speech can be made (TTS down, nothing cached): two short beeps, 16 kHz. */
export function errorTone(): Buffer {
  const rate = 16_000;
  const pcm = Buffer.alloc(rate * 0.6 * 2);
  for (let i = 0; i < pcm.length / 2; i++) {
    const t = i / rate;
    const on = t < 0.2 || (t >= 0.35 && t < 0.55);
    pcm.writeInt16LE(on ? Math.round(6000 * Math.sin(2 * Math.PI * 440 * t)) : 0, i * 2);
  }
  return pcm;
}
