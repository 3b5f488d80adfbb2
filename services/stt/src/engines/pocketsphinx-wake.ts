import { ENGINE_SAMPLE_RATE, EngineUnavailableError, type Recognizer, transcriptOf, type WakeHit } from "./engine";
import { decoderConfig, type PocketSphinxApi, pocketSphinxApi } from "./pocketsphinx-binding";

/**
 * PocketSphinx keyphrase search (kws) over the files of prepareWakeFiles. A spotting decoder
 * holds only the acoustic model and the phrase words, ~8 ms to build, so each stream gets a
 * fresh one (built off the thread) and frees it at the end: no state carries between streams.
 */
export class PocketSphinxWakeEngine {
  readonly partials = false;
  private readonly api: PocketSphinxApi;
  private live = 0;
  private building = 0;

  constructor(private readonly args: string[]) {
    this.api = pocketSphinxApi();
    // Fails at start-up, not on the first stream, when the files or model do not load.
    this.api.psFree(this.build());
  }

  open(): Promise<Recognizer> {
    const cfg = this.config();
    this.building++;
    return this.api.psInitAsync(cfg).then(
      (ps) => {
        this.building--;
        this.api.cmdLnFree(cfg);
        if (!ps) throw new EngineUnavailableError("pocketsphinx could not load the wake-word search");
        this.live++;
        return new WakeSpotter(this.api, ps, () => {
          this.live--;
          this.api.psFree(ps);
        });
      },
      (err) => {
        this.building--;
        this.api.cmdLnFree(cfg);
        throw err;
      },
    );
  }

  counts() {
    return { live: this.live, idle: 0, building: this.building };
  }

  private build(): unknown {
    const cfg = this.config();
    const ps = this.api.psInit(cfg);
    this.api.cmdLnFree(cfg);
    if (!ps) throw new EngineUnavailableError("pocketsphinx could not load the wake-word search");
    return ps;
  }

  private config(): unknown {
    return decoderConfig(this.api, this.args);
  }
}

/**
 * Samples between looks for a detection (64 ms). Looking at fixed stream positions, not at the
 * ends of the chunks a client happens to send, keeps detections independent of chunk sizes:
 * the utterance restarts after each, and where it restarts changes what the search hears next.
 */
const CHECK_SAMPLES = 1024;

/**
 * One spotting stream. The kws search keeps its detections until the utterance ends, so after
 * each one the utterance is restarted: every detection is reported once.
 */
class WakeSpotter implements Recognizer {
  private pending: WakeHit[] = [];
  private fed = 0;
  private inUtterance = true;
  private released = false;

  constructor(
    private readonly api: PocketSphinxApi,
    private readonly ps: unknown,
    private readonly giveBack: () => void,
  ) {
    api.psStartStream(ps);
    api.psStartUtt(ps);
  }

  accept(pcm: Int16Array): void {
    // Bounded: each pass consumes at least one sample.
    for (let at = 0; at < pcm.length; ) {
      const n = Math.min(pcm.length - at, CHECK_SAMPLES - (this.fed % CHECK_SAMPLES));
      const part = pcm.subarray(at, at + n);
      this.api.psProcessRaw(this.ps, part, part.length, 0, 0);
      at += n;
      this.fed += n;
      if (this.fed % CHECK_SAMPLES === 0) this.check();
    }
  }

  private check(): void {
    if (this.api.psGetHyp(this.ps, [0]) === null) return;
    this.collect();
    this.api.psEndUtt(this.ps);
    this.api.psStartUtt(this.ps);
  }

  partial(): string {
    return "";
  }

  detections(): WakeHit[] {
    const out = this.pending;
    this.pending = [];
    return out;
  }

  finish() {
    if (this.inUtterance) {
      this.inUtterance = false;
      this.api.psEndUtt(this.ps);
      if (this.api.psGetHyp(this.ps, [0]) !== null) this.collect();
    }
    return transcriptOf([]);
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    if (this.inUtterance) this.api.psEndUtt(this.ps);
    this.giveBack();
  }

  /** The detections of this utterance: each segment is one phrase with its score. */
  private collect(): void {
    const api = this.api;
    const lmath = api.psGetLogmath(this.ps);
    const audioMs = Math.round((this.fed * 1000) / ENGINE_SAMPLE_RATE);
    for (let seg = api.psSegIter(this.ps); seg; seg = api.psSegNext(seg)) {
      // The kws search leaves a trailing space on the phrase.
      const phrase = api.psSegWord(seg).trim();
      const confidence = api.logmathExp(lmath, api.psSegProb(seg, [0], [0], [0]));
      this.pending.push({ phrase, confidence: Math.max(0, Math.min(1, confidence)), audioMs });
    }
  }
}
