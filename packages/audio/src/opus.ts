import koffi from "koffi";

// libopus 1.3 (Debian's libopus0) through koffi: native speed, and `.async` calls that run on
// libuv's thread pool, so encoding replies never blocks the event loop serving sockets.

/** Rates an Opus encoder or decoder runs at. */
export const OPUS_RATES = [8_000, 12_000, 16_000, 24_000, 48_000] as const;
export type OpusRate = (typeof OPUS_RATES)[number];
/** Frame lengths libopus encodes (2.5 ms is left out: no device uses it). */
export const OPUS_FRAME_MS = [5, 10, 20, 40, 60, 80, 100, 120] as const;
/** The longest packet libopus writes for one frame (RFC 6716: 3 × 1275 + 7 bytes). */
const MAX_PACKET_BYTES = 3832;
/** Decoded frames never exceed 120 ms. */
const MAX_FRAME_MS = 120;

const OPUS_APPLICATION_VOIP = 2048;
const OPUS_APPLICATION_AUDIO = 2049;
const OPUS_SET_BITRATE = 4002;
const OPUS_SET_VBR = 4006;
const OPUS_SET_COMPLEXITY = 4010;
const OPUS_SET_DTX = 4016;
const OPUS_SET_SIGNAL = 4024;
const OPUS_SIGNAL_VOICE = 3001;

export class OpusError extends Error {
  override name = "OpusError";
}

type Handle = unknown;
type AsyncCall = (...args: unknown[]) => void;
interface OpusFn<A extends unknown[], R> {
  (...args: A): R;
  async: AsyncCall;
}

interface OpusApi {
  encoderCreate: OpusFn<[number, number, number, number[]], Handle>;
  encode: OpusFn<[Handle, Int16Array, number, Buffer, number], number>;
  encoderCtl: (st: Handle, request: number, type: string, value: number) => number;
  encoderDestroy: (st: Handle) => void;
  decoderCreate: (rate: number, channels: number, error: number[]) => Handle;
  decode: (st: Handle, data: Buffer, len: number, pcm: Int16Array, frameSize: number, fec: number) => number;
  decoderDestroy: (st: Handle) => void;
  strerror: (code: number) => string;
  encoderSize: (channels: number) => number;
  decoderSize: (channels: number) => number;
}

let api: OpusApi | undefined;

/** Binds libopus once; a clear error when the system library is missing. */
export function opusApi(libPath = "libopus.so.0"): OpusApi {
  if (api) return api;
  let lib: koffi.IKoffiLib;
  try {
    lib = koffi.load(libPath);
  } catch (err) {
    throw new OpusError(`cannot load ${libPath} (Debian package libopus0): ${(err as Error).message}`);
  }
  koffi.opaque("OpusEncoder");
  koffi.opaque("OpusDecoder");
  api = {
    encoderCreate: lib.func(
      "OpusEncoder *opus_encoder_create(int Fs, int channels, int application, _Out_ int *error)",
    ),
    encode: lib.func(
      "int opus_encode(OpusEncoder *st, const int16_t *pcm, int frame_size, _Out_ uint8_t *data, int max_data_bytes)",
    ),
    encoderCtl: lib.func("int opus_encoder_ctl(OpusEncoder *st, int request, ...)"),
    encoderDestroy: lib.func("void opus_encoder_destroy(OpusEncoder *st)"),
    decoderCreate: lib.func("OpusDecoder *opus_decoder_create(int Fs, int channels, _Out_ int *error)"),
    decode: lib.func(
      "int opus_decode(OpusDecoder *st, const uint8_t *data, int len, _Out_ int16_t *pcm, int frame_size, int decode_fec)",
    ),
    decoderDestroy: lib.func("void opus_decoder_destroy(OpusDecoder *st)"),
    strerror: lib.func("const char *opus_strerror(int error)"),
    encoderSize: lib.func("int opus_encoder_get_size(int channels)"),
    decoderSize: lib.func("int opus_decoder_get_size(int channels)"),
  } as OpusApi;
  return api;
}

function checkRate(rate: number): void {
  if (!OPUS_RATES.includes(rate as OpusRate))
    throw new OpusError(`Opus runs at ${OPUS_RATES.join("/")} Hz, not ${rate}`);
}

export interface OpusEncoderOptions {
  sampleRate: OpusRate;
  frameMs: (typeof OPUS_FRAME_MS)[number];
  /** "audio" for replies (what the reference server uses), "voip" for speech from a microphone. */
  application: "audio" | "voip";
  /** Bits per second; undefined leaves libopus's automatic choice. */
  bitrate?: number;
  /** 0 (cheapest) … 10 (best); the package README has the CPU per complexity. */
  complexity: number;
  /** Discontinuous transmission: silence becomes 1-3 byte packets (the xiaozhi firmware's upstream). */
  dtx?: boolean;
}

/**
 * One mono Opus encoder. Holds native memory: `free()` is required, and is safe twice. Async
 * encodes run one at a time (libopus state is not thread-safe) and `free()` waits for them.
 */
export class OpusEncoder {
  readonly frameSamples: number;
  private handle: Handle | null;
  private readonly opus: OpusApi;
  private closed = false;
  private pending = 0;
  private tail: Promise<unknown> = Promise.resolve();

  constructor(readonly options: OpusEncoderOptions) {
    checkRate(options.sampleRate);
    if (!OPUS_FRAME_MS.includes(options.frameMs)) throw new OpusError(`no Opus frame of ${options.frameMs} ms`);
    if (!(Number.isInteger(options.complexity) && options.complexity >= 0 && options.complexity <= 10)) {
      throw new OpusError("Opus complexity must be 0-10");
    }
    this.opus = opusApi();
    this.frameSamples = (options.sampleRate / 1000) * options.frameMs;
    const error = [0];
    const app = options.application === "audio" ? OPUS_APPLICATION_AUDIO : OPUS_APPLICATION_VOIP;
    this.handle = this.opus.encoderCreate(options.sampleRate, 1, app, error);
    if (!this.handle || error[0] !== 0)
      throw new OpusError(`opus_encoder_create: ${this.opus.strerror(error[0] ?? -3)}`);
    const ctl = (request: number, value: number) => {
      const rc = this.opus.encoderCtl(this.handle, request, "int", value);
      if (rc !== 0) {
        this.free();
        throw new OpusError(`opus_encoder_ctl(${request}): ${this.opus.strerror(rc)}`);
      }
    };
    ctl(OPUS_SET_COMPLEXITY, options.complexity);
    ctl(OPUS_SET_SIGNAL, OPUS_SIGNAL_VOICE);
    ctl(OPUS_SET_VBR, 1);
    if (options.bitrate !== undefined) ctl(OPUS_SET_BITRATE, options.bitrate);
    if (options.dtx) ctl(OPUS_SET_DTX, 1);
  }

  /** One packet from exactly one frame of samples, on this thread (for short or test work). */
  encode(frame: Int16Array): Buffer {
    const handle = this.check(frame);
    if (this.pending > 0) throw new OpusError("the encoder is busy with async encodes");
    const out = Buffer.alloc(MAX_PACKET_BYTES);
    return this.packet(out, this.opus.encode(handle, frame, this.frameSamples, out, out.length));
  }

  /** The same on libuv's thread pool: replies are encoded without blocking the event loop. */
  encodeAsync(frame: Int16Array): Promise<Buffer> {
    try {
      this.check(frame);
    } catch (err) {
      return Promise.reject(err);
    }
    // A copy: the caller may reuse its buffer while the thread pool reads this one.
    const input = frame.slice();
    this.pending++;
    const run = () =>
      new Promise<Buffer>((resolve, reject) => {
        const out = Buffer.alloc(MAX_PACKET_BYTES);
        this.opus.encode.async(this.handle, input, this.frameSamples, out, out.length, (err: unknown, n: number) => {
          if (err) reject(new OpusError("opus_encode failed", { cause: err }));
          else {
            try {
              resolve(this.packet(out, n));
            } catch (e) {
              reject(e);
            }
          }
        });
      });
    const result = this.tail.then(run);
    this.tail = result
      .catch(() => undefined)
      .finally(() => {
        this.pending--;
        if (this.closed && this.pending === 0) this.destroy();
      });
    return result;
  }

  /** Releases the encoder now, or once the async encodes already queued have finished. */
  free(): void {
    this.closed = true;
    if (this.pending === 0) this.destroy();
  }

  private destroy(): void {
    if (this.handle === null) return;
    this.opus.encoderDestroy(this.handle);
    this.handle = null;
  }

  private check(frame: Int16Array): Handle {
    if (this.closed || this.handle === null) throw new OpusError("the encoder was freed");
    if (frame.length !== this.frameSamples) {
      throw new OpusError(`an Opus frame here is ${this.frameSamples} samples, not ${frame.length}`);
    }
    return this.handle;
  }

  private packet(out: Buffer, n: number): Buffer {
    if (n < 0) throw new OpusError(`opus_encode: ${this.opus.strerror(n)}`);
    return out.subarray(0, n);
  }
}

/** One mono Opus decoder to PCM16 LE. Holds native memory: `free()` is required. */
export class OpusDecoder {
  private handle: Handle | null;
  private readonly opus: OpusApi;
  private readonly pcm: Int16Array;

  constructor(readonly sampleRate: OpusRate) {
    checkRate(sampleRate);
    this.opus = opusApi();
    const error = [0];
    this.handle = this.opus.decoderCreate(sampleRate, 1, error);
    if (!this.handle || error[0] !== 0)
      throw new OpusError(`opus_decoder_create: ${this.opus.strerror(error[0] ?? -3)}`);
    this.pcm = new Int16Array((sampleRate / 1000) * MAX_FRAME_MS);
  }

  /**
   * The packet's samples as PCM16 LE (a fresh buffer). DTX packets of 1-3 bytes decode to
   * comfort noise or silence of their frame's length; a corrupt packet throws OpusError.
   */
  decode(packet: Buffer): Buffer {
    if (this.handle === null) throw new OpusError("the decoder was freed");
    if (packet.length === 0 || packet.length > MAX_PACKET_BYTES)
      throw new OpusError(`not an Opus packet: ${packet.length} bytes`);
    const n = this.opus.decode(this.handle, packet, packet.length, this.pcm, this.pcm.length, 0);
    if (n < 0) throw new OpusError(`opus_decode: ${this.opus.strerror(n)}`);
    return Buffer.from(this.pcm.buffer.slice(0, n * 2));
  }

  free(): void {
    if (this.handle === null) return;
    this.opus.decoderDestroy(this.handle);
    this.handle = null;
  }
}
