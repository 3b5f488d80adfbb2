import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  ENGINE_SAMPLE_RATE,
  type Engine,
  EngineUnavailableError,
  type RecognizedWord,
  type Recognizer,
  transcriptOf,
} from "./engine";
import { decoderConfig, type PocketSphinxApi, pocketSphinxApi } from "./pocketsphinx-binding";
import { CmnAccess, type CmnState } from "./pocketsphinx-cmn";
import { PieceTiming } from "./pocketsphinx-timing";

/** Frames per second of the default front end (-frate 100). */
const FRAME_MS = 10;
/**
 * pocketsphinx_continuous reads its file 2048 samples at a time and asks the voice-activity
 * detector after each read; asking at the same sample positions cuts speech where it does,
 * whatever chunk sizes a client sends.
 */
export const VAD_CHECK_SAMPLES = 2048;
/**
 * The VAD needs -vad_startspeech (10) frames, 1600 samples, to re-enter speech after leaving it;
 * feeding at most 1024 samples per call lets every exit inside a check window be seen (see
 * PieceTiming). Splitting calls does not change what the decoder computes.
 */
const RUN_CHECK_SAMPLES = 1024;

/** The files of a pocketsphinx model folder, checked so a bad path is a clear start-up error. */
export function pocketSphinxArgs(modelDir: string): string[] {
  const files = { "-hmm": "en-us", "-lm": "en-us.lm.bin", "-dict": "cmudict-en-us.dict" };
  const argv: string[] = [];
  for (const [flag, name] of Object.entries(files)) {
    const path = join(modelDir, name);
    if (!existsSync(path)) {
      throw new EngineUnavailableError(`pocketsphinx model file missing: ${path} (apt-get install pocketsphinx-en-us)`);
    }
    argv.push(flag, path);
  }
  return argv;
}

/** A word of the decoder's output that is a real word: not silence, sentence marks or fillers. */
function spokenWord(raw: string): string | undefined {
  if (raw.startsWith("<") || raw.startsWith("[") || raw.startsWith("+")) return undefined;
  // Alternative pronunciations come out as word(2).
  return raw.replace(/\(\d+\)$/, "");
}

/**
 * PocketSphinx with the Debian en-us model. A decoder costs ~0.3 s and ~100 MB to make, so
 * each worker keeps decoders and lends one to each stream; a released one is reset and reused.
 */
export class PocketSphinxEngine implements Engine {
  readonly name = "pocketsphinx" as const;
  readonly partials = true;
  private readonly api: PocketSphinxApi;
  private readonly argv: string[];
  private readonly idle: Decoder[] = [];
  private live = 0;
  private building = 0;

  constructor(
    modelDir: string,
    private readonly maxIdle: number,
  ) {
    this.argv = pocketSphinxArgs(modelDir);
    this.api = pocketSphinxApi();
  }

  /** Prepares decoders ahead of the first streams (at start-up, on the worker's own thread). */
  warm(count: number): void {
    while (this.idle.length < Math.min(count, this.maxIdle)) {
      const cfg = this.config();
      this.idle.push(this.wrap(this.api.psInit(cfg), cfg));
    }
  }

  open(): Recognizer | Promise<Recognizer> {
    const idle = this.idle.pop();
    if (idle) return this.lend(idle);
    // None idle: building one takes ~0.5 s, off the thread so the worker's other streams go on.
    const cfg = this.config();
    this.building++;
    const built = this.api.psInitAsync(cfg).then(
      (ps) => this.wrap(ps, cfg),
      (err) => {
        this.api.cmdLnFree(cfg);
        throw err;
      },
    );
    return built.then(
      (decoder) => {
        this.building--;
        return this.lend(decoder);
      },
      (err) => {
        this.building--;
        throw err;
      },
    );
  }

  private lend(decoder: Decoder): Recognizer {
    // Every stream starts from the model's cepstral mean, as a fresh decoder (and the CLI) does,
    // so a result never depends on which streams used this decoder before.
    try {
      decoder.cmn.write(decoder.initialCmn);
    } catch (err) {
      this.api.psFree(decoder.ps);
      throw err;
    }
    this.live++;
    return new PocketSphinxRecognizer(this.api, decoder.ps, () => {
      this.live--;
      if (this.idle.length < this.maxIdle) this.idle.push(decoder);
      else this.api.psFree(decoder.ps);
    });
  }

  counts() {
    return { live: this.live, idle: this.idle.length, building: this.building };
  }

  close(): void {
    for (const d of this.idle.splice(0)) this.api.psFree(d.ps);
  }

  private config(): unknown {
    return decoderConfig(this.api, this.argv);
  }

  /** A decoder from ps_init(cfg), with its CMN access; `cfg` is let go of (the decoder holds its own reference). */
  private wrap(decoder: unknown, cfg: unknown): Decoder {
    const api = this.api;
    api.cmdLnFree(cfg);
    if (!decoder) throw new EngineUnavailableError("pocketsphinx could not load its model");
    try {
      const cmn = new CmnAccess(api.psGetFeat(decoder));
      return { ps: decoder, cmn, initialCmn: cmn.read() };
    } catch (err) {
      api.psFree(decoder);
      throw err;
    }
  }
}

interface Decoder {
  ps: unknown;
  cmn: CmnAccess;
  /** The live CMN state right after ps_init: the model's -cmninit, nothing accumulated. */
  initialCmn: CmnState;
}

/**
 * One stream on one decoder, decoded the way pocketsphinx_continuous decodes a file: the
 * utterance is cut where the voice activity detector hears silence after speech (asked every
 * VAD_CHECK_SAMPLES samples), so long speech is decoded piece by piece and the final joins the
 * pieces; a trailing piece in which no speech was heard adds nothing.
 */
class PocketSphinxRecognizer implements Recognizer {
  private readonly done: RecognizedWord[] = [];
  private doneText = "";
  private inUtterance = true;
  private heardSpeech = false;
  private released = false;
  /** Samples fed since the last VAD check position. */
  private sinceCheck = 0;
  /** Samples fed to the stream. */
  private fed = 0;
  /** The VAD's state after the last call, to see it leave speech between checks. */
  private wasInSpeech = false;
  private timing = new PieceTiming();

  constructor(
    private readonly api: PocketSphinxApi,
    private readonly decoder: unknown,
    private readonly giveBack: () => void,
  ) {
    api.psStartStream(decoder);
    api.psStartUtt(decoder);
  }

  accept(pcm: Int16Array): void | Promise<void> {
    // Bounded: each pass consumes at least one sample.
    for (let at = 0; at < pcm.length; ) {
      // RUN_CHECK_SAMPLES divides VAD_CHECK_SAMPLES, so calls still end at every check position.
      const n = Math.min(pcm.length - at, RUN_CHECK_SAMPLES - (this.sinceCheck % RUN_CHECK_SAMPLES));
      const part = pcm.subarray(at, at + n);
      this.api.psProcessRaw(this.decoder, part, part.length, 0, 0);
      at += n;
      this.fed += n;
      this.sinceCheck += n;
      if (this.sinceCheck !== VAD_CHECK_SAMPLES) this.watchRun();
      else if (this.checkSpeech()) {
        // The piece's second pass runs off the thread; the rest of this chunk follows it.
        const rest = pcm.subarray(at);
        return this.cut().then(() => this.accept(rest));
      }
    }
  }

  partial(): string {
    const current = this.inUtterance ? (this.api.psGetHyp(this.decoder, [0]) ?? "") : "";
    return [this.doneText, current].filter(Boolean).join(" ");
  }

  async finish() {
    // The CLI's last read is short and is checked like the others.
    if (this.sinceCheck > 0 && this.checkSpeech()) await this.cut();
    if (this.inUtterance) await this.endPiece(this.heardSpeech);
    return transcriptOf(this.done);
  }

  release(): void | Promise<void> {
    if (this.released) return;
    this.released = true;
    if (!this.inUtterance) return this.giveBack();
    // Ending an utterance runs its second pass: off the thread, like any piece's end.
    this.inUtterance = false;
    return this.api.psEndUttAsync(this.decoder).then(this.giveBack, this.giveBack);
  }

  /** At a check position: true when silence follows speech, so the piece must be cut here. */
  private checkSpeech(): boolean {
    this.sinceCheck = 0;
    const inSpeech = this.api.psGetInSpeech(this.decoder) !== 0;
    this.wasInSpeech = inSpeech;
    if (inSpeech) this.heardSpeech = true;
    return !inSpeech && this.heardSpeech;
  }

  /** Ends the piece (keeping its words) and starts the next, as the CLI does at a pause. */
  private async cut(): Promise<void> {
    await this.endPiece(true);
    this.api.psStartUtt(this.decoder);
    this.inUtterance = true;
    this.heardSpeech = false;
  }

  /** Between checks: when the VAD leaves speech, notes the run's offset before a new run replaces it. */
  private watchRun(): void {
    const inSpeech = this.api.psGetInSpeech(this.decoder) !== 0;
    if (this.wasInSpeech && !inSpeech) {
      const offset = this.streamOffset();
      if (offset !== undefined) this.timing.runEnded(offset, this.api.psGetNFrames(this.decoder));
    }
    this.wasInSpeech = inSpeech;
  }

  /**
   * The stream offset ps_seg_frames adds right now: the first segment (<s>) starts at the
   * piece's frame 0, so its reported start is the offset itself.
   */
  private streamOffset(): number | undefined {
    const seg = this.api.psSegIter(this.decoder);
    if (!seg) return undefined;
    const sf: [number] = [0];
    this.api.psSegFrames(seg, sf, [0]);
    this.api.psSegFree(seg);
    return sf[0];
  }

  private async endPiece(keep: boolean): Promise<void> {
    const api = this.api;
    this.inUtterance = false;
    await api.psEndUttAsync(this.decoder);
    this.wasInSpeech = false;
    const timing = this.timing;
    this.timing = new PieceTiming();
    if (!keep) return;
    const lmath = api.psGetLogmath(this.decoder);
    // A word cannot end after the audio heard; frame rounding could put it a frame past.
    const fedMs = Math.floor((this.fed * 1000) / ENGINE_SAMPLE_RATE);
    let offset: number | undefined;
    for (let seg = await api.psSegIterAsync(this.decoder); seg; seg = api.psSegNext(seg)) {
      const sf: [number] = [0];
      const ef: [number] = [0];
      api.psSegFrames(seg, sf, ef);
      offset ??= sf[0];
      const word = spokenWord(api.psSegWord(seg));
      if (!word) continue;
      // The segment's posterior probability from the lattice (bestpath is on by default).
      const posterior = api.logmathExp(lmath, api.psSegProb(seg, [0], [0], [0]));
      const endMs = Math.min(fedMs, (timing.streamFrame(ef[0], offset) + 1) * FRAME_MS);
      this.done.push({
        word,
        startMs: Math.min(endMs, timing.streamFrame(sf[0], offset) * FRAME_MS),
        endMs,
        confidence: Math.max(0, Math.min(1, posterior)),
      });
    }
    this.doneText = this.done.map((w) => w.word).join(" ");
  }
}
