import { existsSync } from "node:fs";
import { join } from "node:path";
import { type Engine, EngineUnavailableError, type RecognizedWord, type Recognizer, transcriptOf } from "./engine";
import { type PocketSphinxApi, pocketSphinxApi } from "./pocketsphinx-binding";

/** Frames per second of the default front end (-frate 100). */
const FRAME_MS = 10;

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
  private readonly idle: unknown[] = [];
  private live = 0;

  constructor(
    modelDir: string,
    private readonly maxIdle: number,
  ) {
    this.argv = pocketSphinxArgs(modelDir);
    this.api = pocketSphinxApi();
  }

  /** Prepares decoders ahead of the first streams. */
  warm(count: number): void {
    while (this.idle.length < Math.min(count, this.maxIdle)) this.idle.push(this.newDecoder());
  }

  open(): Recognizer {
    const decoder = this.idle.pop() ?? this.newDecoder();
    this.live++;
    return new PocketSphinxRecognizer(this.api, decoder, (d) => {
      this.live--;
      if (this.idle.length < this.maxIdle) this.idle.push(d);
      else this.api.psFree(d);
    });
  }

  counts() {
    return { live: this.live, idle: this.idle.length };
  }

  close(): void {
    for (const d of this.idle.splice(0)) this.api.psFree(d);
  }

  private newDecoder(): unknown {
    const api = this.api;
    const cfg = api.cmdLnParse(null, api.psArgs(), this.argv.length, this.argv, 1);
    if (!cfg) throw new EngineUnavailableError("pocketsphinx rejected its configuration");
    api.psDefaultSearchArgs(cfg);
    const decoder = api.psInit(cfg);
    // The decoder holds its own reference to the configuration.
    api.cmdLnFree(cfg);
    if (!decoder) throw new EngineUnavailableError("pocketsphinx could not load its model");
    return decoder;
  }
}

/**
 * One stream on one decoder. Like pocketsphinx_continuous, the utterance is cut where the
 * decoder's voice activity detection hears silence, so long speech is decoded piece by piece
 * and the final joins the pieces.
 */
class PocketSphinxRecognizer implements Recognizer {
  private readonly done: RecognizedWord[] = [];
  private doneText = "";
  private inUtterance = true;
  private heardSpeech = false;
  private released = false;

  constructor(
    private readonly api: PocketSphinxApi,
    private readonly decoder: unknown,
    private readonly giveBack: (decoder: unknown) => void,
  ) {
    api.psStartStream(decoder);
    api.psStartUtt(decoder);
  }

  accept(pcm: Int16Array): void {
    if (pcm.length === 0) return;
    this.api.psProcessRaw(this.decoder, pcm, pcm.length, 0, 0);
    const inSpeech = this.api.psGetInSpeech(this.decoder) !== 0;
    if (inSpeech) this.heardSpeech = true;
    else if (this.heardSpeech) {
      this.endPiece();
      this.api.psStartUtt(this.decoder);
      this.inUtterance = true;
      this.heardSpeech = false;
    }
  }

  partial(): string {
    const current = this.inUtterance ? (this.api.psGetHyp(this.decoder, [0]) ?? "") : "";
    return [this.doneText, current].filter(Boolean).join(" ");
  }

  finish() {
    if (this.inUtterance) this.endPiece();
    return transcriptOf(this.done);
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    if (this.inUtterance) {
      this.api.psEndUtt(this.decoder);
      this.inUtterance = false;
    }
    this.giveBack(this.decoder);
  }

  private endPiece(): void {
    const api = this.api;
    api.psEndUtt(this.decoder);
    this.inUtterance = false;
    const lmath = api.psGetLogmath(this.decoder);
    for (let seg = api.psSegIter(this.decoder); seg; seg = api.psSegNext(seg)) {
      const word = spokenWord(api.psSegWord(seg));
      if (!word) continue;
      const sf: [number] = [0];
      const ef: [number] = [0];
      api.psSegFrames(seg, sf, ef);
      // The segment's posterior probability from the lattice (bestpath is on by default).
      const posterior = api.logmathExp(lmath, api.psSegProb(seg, [0], [0], [0]));
      this.done.push({
        word,
        startMs: sf[0] * FRAME_MS,
        endMs: (ef[0] + 1) * FRAME_MS,
        confidence: Math.max(0, Math.min(1, posterior)),
      });
    }
    this.doneText = this.done.map((w) => w.word).join(" ");
  }
}
