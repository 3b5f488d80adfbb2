import { ENGINE_SAMPLE_RATE, type Engine, type RecognizedWord, type Recognizer, transcriptOf } from "./engine";
import { type VoskApi, voskApi } from "./vosk-binding";

interface VoskWord {
  word: string;
  start: number;
  end: number;
  conf: number;
}

/** Vosk with the process's one model; a recognizer per stream, words and confidences on. */
export class VoskEngine implements Engine {
  readonly name = "vosk" as const;
  readonly partials = true;
  private readonly api: VoskApi;
  private live = 0;

  constructor(
    private readonly modelAddress: bigint,
    libPath = "",
  ) {
    this.api = voskApi(libPath);
  }

  open(): Recognizer {
    const rec = this.api.recognizerNew(this.modelAddress, ENGINE_SAMPLE_RATE);
    if (!rec) throw new Error("libvosk could not create a recognizer");
    this.api.setWords(rec, 1);
    this.live++;
    return new VoskRecognizer(this.api, rec, () => this.live--);
  }

  counts() {
    return { live: this.live, idle: 0 };
  }

  close(): void {}
}

/** Vosk ends a piece of the utterance at each pause; the final joins the pieces. */
class VoskRecognizer implements Recognizer {
  private readonly done: RecognizedWord[] = [];
  private released = false;

  constructor(
    private readonly api: VoskApi,
    private readonly rec: unknown,
    private readonly onRelease: () => void,
  ) {}

  accept(pcm: Int16Array): void {
    if (pcm.length === 0) return;
    if (this.api.acceptWaveform(this.rec, pcm, pcm.length) === 1) this.take(this.api.result(this.rec));
  }

  partial(): string {
    const current = (JSON.parse(this.api.partialResult(this.rec)) as { partial?: string }).partial ?? "";
    return [...this.done.map((w) => w.word), current].filter(Boolean).join(" ");
  }

  finish() {
    this.take(this.api.finalResult(this.rec));
    return transcriptOf(this.done);
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.api.recognizerFree(this.rec);
    this.onRelease();
  }

  private take(json: string): void {
    const piece = JSON.parse(json) as { result?: VoskWord[] };
    for (const w of piece.result ?? []) {
      this.done.push({
        word: w.word,
        startMs: Math.round(w.start * 1000),
        endMs: Math.round(w.end * 1000),
        confidence: Math.max(0, Math.min(1, w.conf)),
      });
    }
  }
}
