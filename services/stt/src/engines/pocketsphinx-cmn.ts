import koffi from "koffi";
import { EngineUnavailableError } from "./engine";

// struct feat_s up to cmn_struct and struct cmn_t, as declared in libsphinxbase-dev 5prealpha's
// feat.h and cmn.h (mfcc_t is float in Debian's floating-point build).
const featHead = koffi.struct("hotpin_feat_head", {
  refcount: "int",
  name: "void *",
  cepsize: "int32_t",
  n_stream: "int32_t",
  stream_len: "void *",
  window_size: "int32_t",
  n_sv: "int32_t",
  sv_len: "void *",
  subvecs: "void *",
  sv_buf: "void *",
  sv_dim: "int32_t",
  cmn: "int",
  varnorm: "int32_t",
  agc: "int",
  compute_feat: "void *",
  cmn_struct: "void *",
});
const cmnStruct = koffi.struct("hotpin_cmn", {
  cmn_mean: "void *",
  cmn_var: "void *",
  sum: "void *",
  nframe: "int32_t",
  veclen: "int32_t",
});

const NFRAME_OFFSET = koffi.offsetof(cmnStruct, "nframe");

interface CmnFields {
  cmn_mean: unknown;
  cmn_var: unknown;
  sum: unknown;
  nframe: number;
  veclen: number;
}

/** The live cepstral-mean state of one decoder: running mean, accumulated sum and frame count. */
export interface CmnState {
  mean: number[];
  sum: number[];
  nframe: number;
}

/**
 * Reads and writes a decoder's live CMN. Live CMN adapts at every utterance end and is never
 * reset by ps_start_stream, so a reused decoder starts each stream from the previous speaker's
 * mean; pocketsphinx_continuous starts every file from a fresh decoder (the model's -cmninit).
 */
export class CmnAccess {
  private readonly cmn: unknown;

  /** `feat` is ps_get_feat(decoder). */
  constructor(feat: unknown) {
    const head = koffi.decode(feat, featHead) as { cepsize: number; cmn_struct: unknown };
    this.cmn = head.cmn_struct;
    const veclen = this.fields().veclen;
    // A layout that does not match the library would read garbage: refuse rather than corrupt.
    if (!this.cmn || veclen !== head.cepsize || veclen <= 0 || veclen > 64) {
      throw new EngineUnavailableError("pocketsphinx feature layout is not the expected 5prealpha one");
    }
  }

  read(): CmnState {
    const f = this.fields();
    return {
      mean: koffi.decode(f.cmn_mean, "float", f.veclen) as number[],
      sum: koffi.decode(f.sum, "float", f.veclen) as number[],
      nframe: f.nframe,
    };
  }

  write(state: CmnState): void {
    const f = this.fields();
    koffi.encode(f.cmn_mean, "float", state.mean, f.veclen);
    koffi.encode(f.sum, "float", state.sum, f.veclen);
    koffi.encode(this.cmn, NFRAME_OFFSET, "int32_t", state.nframe);
  }

  private fields(): CmnFields {
    return koffi.decode(this.cmn, cmnStruct) as CmnFields;
  }
}
