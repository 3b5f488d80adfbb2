// The package ships JavaScript only; these are the Emscripten exports our binding uses.
declare module "@echogarden/fvad-wasm" {
  export interface FvadModule {
    _fvad_new(): number;
    _fvad_free(handle: number): void;
    _fvad_reset(handle: number): void;
    _fvad_set_mode(handle: number, mode: number): number;
    _fvad_set_sample_rate(handle: number, rate: number): number;
    _fvad_process(handle: number, samples: number, length: number): number;
    _malloc(bytes: number): number;
    _free(pointer: number): void;
    /** Replaced when the heap grows: read it at each use. */
    HEAP16: Int16Array;
  }
  const factory: (options?: object) => Promise<FvadModule>;
  export default factory;
}
