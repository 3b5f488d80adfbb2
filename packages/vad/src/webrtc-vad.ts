import type { FvadModule } from "@echogarden/fvad-wasm";

/** Rates libfvad accepts; other rates are resampled at the edge boundary before the VAD. */
export const VAD_SAMPLE_RATES = [8_000, 16_000, 32_000, 48_000] as const;
/** Frame lengths libfvad accepts. */
export const VAD_FRAME_MS = [10, 20, 30] as const;

export type VadSampleRate = (typeof VAD_SAMPLE_RATES)[number];
export type VadFrameMs = (typeof VAD_FRAME_MS)[number];
/** libfvad's aggressiveness: 0 (quality) … 3 (very aggressive about calling audio non-speech). */
export type VadMode = 0 | 1 | 2 | 3;

export class VadError extends Error {
  override name = "VadError";
}

let loading: Promise<FvadModule> | undefined;

/** The WASM module, instantiated once per process; every session's VAD lives in its heap. */
export function loadFvad(): Promise<FvadModule> {
  loading ??= import("@echogarden/fvad-wasm")
    .then((m) => m.default())
    .catch((cause: unknown) => {
      loading = undefined;
      throw new VadError("could not load the WebRTC VAD (WASM)", { cause });
    });
  return loading;
}

export interface WebRtcVadOptions {
  sampleRate: VadSampleRate;
  frameMs: VadFrameMs;
  mode: VadMode;
}

/**
 * One session's WebRTC VAD: classifies fixed frames as speech or not. Holds WASM memory that
 * JavaScript's collector cannot see, so `free()` is required; a freed VAD refuses to work.
 */
export class WebRtcVad {
  readonly frameSamples: number;
  private handle: number;
  private buffer: number;

  private constructor(
    private readonly fvad: FvadModule,
    readonly options: WebRtcVadOptions,
  ) {
    if (!VAD_SAMPLE_RATES.includes(options.sampleRate)) {
      throw new VadError(`the VAD runs at ${VAD_SAMPLE_RATES.join("/")} Hz, not ${options.sampleRate}`);
    }
    if (!VAD_FRAME_MS.includes(options.frameMs)) {
      throw new VadError(`the VAD takes frames of ${VAD_FRAME_MS.join("/")} ms, not ${options.frameMs}`);
    }
    if (![0, 1, 2, 3].includes(options.mode)) throw new VadError(`VAD mode must be 0-3, not ${options.mode}`);
    this.frameSamples = (options.sampleRate / 1000) * options.frameMs;
    this.handle = fvad._fvad_new();
    if (this.handle === 0) throw new VadError("the VAD could not allocate its state");
    this.buffer = fvad._malloc(this.frameSamples * 2);
    if (this.buffer === 0) {
      fvad._fvad_free(this.handle);
      throw new VadError("the VAD could not allocate its frame buffer");
    }
    fvad._fvad_set_mode(this.handle, options.mode);
    fvad._fvad_set_sample_rate(this.handle, options.sampleRate);
  }

  static async create(options: WebRtcVadOptions): Promise<WebRtcVad> {
    return new WebRtcVad(await loadFvad(), options);
  }

  /** Whether one frame of exactly `frameSamples` samples holds speech. */
  isSpeech(frame: Int16Array): boolean {
    if (this.handle === 0) throw new VadError("the VAD was freed");
    if (frame.length !== this.frameSamples) {
      throw new VadError(`a VAD frame is ${this.frameSamples} samples, not ${frame.length}`);
    }
    this.fvad.HEAP16.set(frame, this.buffer >> 1);
    const result = this.fvad._fvad_process(this.handle, this.buffer, this.frameSamples);
    if (result < 0) throw new VadError("the VAD rejected a frame");
    return result === 1;
  }

  reset(): void {
    if (this.handle !== 0) this.fvad._fvad_reset(this.handle);
  }

  /** Releases the WASM memory; safe to call twice. */
  free(): void {
    if (this.handle === 0) return;
    this.fvad._fvad_free(this.handle);
    this.fvad._free(this.buffer);
    this.handle = 0;
    this.buffer = 0;
  }
}
