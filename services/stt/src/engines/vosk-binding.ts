import { existsSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import koffi from "koffi";
import { EngineUnavailableError } from "./engine";

/** The libvosk C API this engine uses. Models are passed as addresses so threads can share one. */
export interface VoskApi {
  setLogLevel(level: number): void;
  modelNew(path: string): unknown;
  modelFree(model: unknown): void;
  recognizerNew(modelAddress: bigint, sampleRate: number): unknown;
  setWords(rec: unknown, on: number): void;
  acceptWaveform(rec: unknown, data: Int16Array, length: number): number;
  result(rec: unknown): string;
  partialResult(rec: unknown): string;
  finalResult(rec: unknown): string;
  recognizerFree(rec: unknown): void;
}

/** libvosk.so as shipped inside the vosk npm package. */
export function defaultVoskLibPath(): string {
  return join(dirname(require.resolve("vosk")), "lib", "linux-x86_64", "libvosk.so");
}

let api: VoskApi | undefined;

/** Binds libvosk once per thread; a clear error when the library is missing or unloadable. */
export function voskApi(libPath = ""): VoskApi {
  if (api) return api;
  const path = libPath || defaultVoskLibPath();
  let lib: koffi.IKoffiLib;
  try {
    lib = koffi.load(path);
  } catch (err) {
    throw new EngineUnavailableError(`cannot load libvosk from ${path}: ${(err as Error).message}`);
  }
  api = {
    setLogLevel: lib.func("void vosk_set_log_level(int level)"),
    modelNew: lib.func("void *vosk_model_new(const char *path)"),
    modelFree: lib.func("void vosk_model_free(void *model)"),
    // A VoskModel* crosses threads as its address; the model is read-only and shareable.
    recognizerNew: lib.func("void *vosk_recognizer_new(uintptr_t model, float sample_rate)"),
    setWords: lib.func("void vosk_recognizer_set_words(void *rec, int words)"),
    acceptWaveform: lib.func("int vosk_recognizer_accept_waveform_s(void *rec, const int16_t *data, int length)"),
    result: lib.func("const char *vosk_recognizer_result(void *rec)"),
    partialResult: lib.func("const char *vosk_recognizer_partial_result(void *rec)"),
    finalResult: lib.func("const char *vosk_recognizer_final_result(void *rec)"),
    recognizerFree: lib.func("void vosk_recognizer_free(void *rec)"),
  } as VoskApi;
  // Kaldi logs every model detail to stderr otherwise.
  api.setLogLevel(-1);
  return api;
}

export interface VoskModel {
  /** Address of the VoskModel, for recognizers made in worker threads. */
  address: bigint;
  free(): void;
}

/**
 * Loads the one model of this process. A missing path, a path that is not a model folder or a
 * model libvosk cannot read is an EngineUnavailableError naming the path.
 */
export function loadVoskModel(modelPath: string, libPath = ""): VoskModel {
  if (!modelPath) throw new EngineUnavailableError("no Vosk model configured (HOTPIN_STT_VOSK_MODEL_PATH)");
  if (!existsSync(modelPath) || !statSync(modelPath).isDirectory()) {
    throw new EngineUnavailableError(`Vosk model folder not found: ${modelPath}`);
  }
  const vosk = voskApi(libPath);
  const model = vosk.modelNew(modelPath);
  if (!model) throw new EngineUnavailableError(`libvosk could not load the model in ${modelPath}`);
  let freed = false;
  return {
    address: koffi.address(model),
    free() {
      if (!freed) vosk.modelFree(model);
      freed = true;
    },
  };
}
