import koffi from "koffi";
import { EngineUnavailableError } from "./engine";

/** The C API of Debian's libpocketsphinx3 (5prealpha) and libsphinxbase3, as this engine uses it. */
export interface PocketSphinxApi {
  errSetLogfp(fp: null): void;
  cmdLnParse(inout: null, defn: unknown, argc: number, argv: string[], strict: number): unknown;
  cmdLnFree(cfg: unknown): number;
  logmathExp(lmath: unknown, p: number): number;
  psArgs(): unknown;
  psDefaultSearchArgs(cfg: unknown): void;
  psInit(cfg: unknown): unknown;
  /** ps_init on libuv's pool: loading the model takes ~0.5 s, too long for a thread serving streams. */
  psInitAsync(cfg: unknown): Promise<unknown>;
  psFree(ps: unknown): number;
  psStartStream(ps: unknown): number;
  psStartUtt(ps: unknown): number;
  psProcessRaw(ps: unknown, data: Int16Array, n: number, noSearch: number, fullUtt: number): number;
  psEndUtt(ps: unknown): number;
  /**
   * ps_end_utt on a thread of libuv's pool: it runs the second pass (fwdflat) over the whole
   * piece, the longest call the engine makes, and must not hold up other streams.
   */
  psEndUttAsync(ps: unknown): Promise<number>;
  psGetHyp(ps: unknown, score: [number]): string | null;
  psGetInSpeech(ps: unknown): number;
  psGetNFrames(ps: unknown): number;
  psGetLogmath(ps: unknown): unknown;
  psGetFeat(ps: unknown): unknown;
  psSegIter(ps: unknown): unknown;
  /** ps_seg_iter off the calling thread: after an utterance it builds the lattice (bestpath, posteriors). */
  psSegIterAsync(ps: unknown): Promise<unknown>;
  psSegNext(seg: unknown): unknown;
  psSegWord(seg: unknown): string;
  psSegFrames(seg: unknown, sf: [number], ef: [number]): void;
  psSegProb(seg: unknown, a: [number], l: [number], b: [number]): number;
  psSegFree(seg: unknown): void;
}

let api: PocketSphinxApi | undefined;

/** Binds the libraries once per thread; a clear error when they are not installed. */
export function pocketSphinxApi(): PocketSphinxApi {
  if (api) return api;
  let sb: koffi.IKoffiLib;
  let ps: koffi.IKoffiLib;
  try {
    sb = koffi.load("libsphinxbase.so.3");
    ps = koffi.load("libpocketsphinx.so.3");
  } catch (err) {
    throw new EngineUnavailableError(
      `pocketsphinx libraries not installed (apt-get install libpocketsphinx3 pocketsphinx-en-us): ${(err as Error).message}`,
    );
  }
  const psEndUtt = ps.func("int ps_end_utt(void *ps)");
  const psSegIter = ps.func("void *ps_seg_iter(void *ps)");
  const psInit = ps.func("void *ps_init(void *cfg)");
  api = {
    errSetLogfp: sb.func("void err_set_logfp(void *fp)"),
    cmdLnParse: sb.func(
      "void *cmd_ln_parse_r(void *inout, void *defn, int32_t argc, const char **argv, int32_t strict)",
    ),
    cmdLnFree: sb.func("int cmd_ln_free_r(void *cfg)"),
    logmathExp: sb.func("double logmath_exp(void *lmath, int32_t p)"),
    psArgs: ps.func("void *ps_args()"),
    psDefaultSearchArgs: ps.func("void ps_default_search_args(void *cfg)"),
    psInit,
    psInitAsync: offThread<unknown>(psInit),
    psFree: ps.func("int ps_free(void *ps)"),
    psStartStream: ps.func("int ps_start_stream(void *ps)"),
    psStartUtt: ps.func("int ps_start_utt(void *ps)"),
    psProcessRaw: ps.func("int ps_process_raw(void *ps, const int16_t *data, size_t n, int no_search, int full_utt)"),
    psEndUtt,
    psEndUttAsync: offThread<number>(psEndUtt),
    psGetHyp: ps.func("const char *ps_get_hyp(void *ps, _Out_ int32_t *score)"),
    psGetInSpeech: ps.func("uint8_t ps_get_in_speech(void *ps)"),
    psGetNFrames: ps.func("int ps_get_n_frames(void *ps)"),
    psGetLogmath: ps.func("void *ps_get_logmath(void *ps)"),
    psGetFeat: ps.func("void *ps_get_feat(void *ps)"),
    psSegIter,
    psSegIterAsync: offThread<unknown>(psSegIter),
    psSegNext: ps.func("void *ps_seg_next(void *seg)"),
    psSegWord: ps.func("const char *ps_seg_word(void *seg)"),
    psSegFrames: ps.func("void ps_seg_frames(void *seg, _Out_ int *sf, _Out_ int *ef)"),
    psSegProb: ps.func("int32_t ps_seg_prob(void *seg, _Out_ int32_t *a, _Out_ int32_t *l, _Out_ int32_t *b)"),
    psSegFree: ps.func("void ps_seg_free(void *seg)"),
  } as PocketSphinxApi;
  // The library logs every decoder setting to stderr; keep our logs readable and structured.
  api.errSetLogfp(null);
  return api;
}

/** A decoder configuration from command-line style arguments (freed by ps_init's caller with cmdLnFree). */
export function decoderConfig(api: PocketSphinxApi, argv: string[]): unknown {
  const cfg = api.cmdLnParse(null, api.psArgs(), argv.length, argv, 1);
  if (!cfg) throw new EngineUnavailableError("pocketsphinx rejected its configuration");
  api.psDefaultSearchArgs(cfg);
  return cfg;
}

/** A one-argument native call run on libuv's thread pool (koffi's async calls), as a promise. */
function offThread<R>(fn: koffi.KoffiFunction): (arg: unknown) => Promise<R> {
  return (arg) =>
    new Promise((resolve, reject) => {
      fn.async(arg, (err: unknown, result: R) => (err ? reject(err) : resolve(result)));
    });
}
