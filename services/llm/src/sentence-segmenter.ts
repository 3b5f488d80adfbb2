import { textForSpeech, unspeakable } from "./speech-text";

export interface SegmenterLimits {
  /** Segments shorter than this wait to be joined with the next sentence (the last one does not). */
  minChars: number;
  /** No segment is longer than this; a longer sentence is cut at a clause or word boundary. */
  maxChars: number;
}

// ICU (Intl.Segmenter in Node) does not know English abbreviations; a "sentence" that ends in one
// of these continues in the next one ("Dr. Smith", "e.g. this").
const ABBREVIATION =
  /(?:^|[\s(])(?:mr|mrs|ms|dr|prof|sr|jr|st|mt|ft|vs|etc|e\.g|i\.e|approx|vol|fig|dept|inc|ltd|corp|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec|[a-z])\.\s*$/i;

/**
 * Turns a stream of text deltas into sentences ready for speech, as soon as each is complete:
 * ICU sentence boundaries, abbreviations joined back, fenced code held until it closes (and then
 * dropped), every piece cleaned by textForSpeech. Pure and synchronous: cheap enough for the
 * event loop (a few microseconds per delta).
 */
export class SentenceSegmenter {
  private pending = "";
  private carry = "";
  private readonly icu = new Intl.Segmenter("en", { granularity: "sentence" });

  constructor(private readonly limits: SegmenterLimits) {}

  /** Adds a delta; returns the segments that became ready, in order. */
  push(delta: string): string[] {
    this.pending += delta;
    return this.drain(false);
  }

  /** The stream ended: everything left, including a short last sentence. */
  flush(): string[] {
    const out = this.drain(true);
    if (this.carry) out.push(...this.cut(this.carry));
    this.carry = "";
    return out;
  }

  private drain(final: boolean): string[] {
    // Closed code blocks are never spoken; an open one holds everything after it.
    this.pending = this.pending.replace(/```[\s\S]*?```/g, "\n");
    const fence = this.pending.indexOf("```");
    let work = fence >= 0 ? this.pending.slice(0, fence) : this.pending;
    // A trailing "`" or "``" may be the start of a fence still arriving.
    if (fence < 0 && !final) work = work.replace(/`{1,2}$/, "");
    const sentences = this.sentences(work);
    const complete = final || fence >= 0 ? sentences : sentences.slice(0, -1);
    const consumed = complete.reduce((n, s) => n + s.length, 0);
    this.pending = final ? "" : this.pending.slice(consumed);

    const out: string[] = [];
    for (const sentence of complete) {
      const spoken = textForSpeech(sentence);
      if (!spoken || unspeakable(spoken)) continue;
      this.carry = this.carry ? `${this.carry} ${spoken}` : spoken;
      if (this.carry.length >= this.limits.minChars) {
        out.push(...this.cut(this.carry));
        this.carry = "";
      }
    }
    // A sentence still arriving that is already too long is spoken in pieces.
    if (!final && fence < 0 && this.pending.length > this.limits.maxChars * 1.5) {
      const head = this.pending.slice(0, this.limits.maxChars);
      const at = breakPoint(head, this.limits.maxChars);
      const spoken = textForSpeech(`${this.carry} ${this.pending.slice(0, at)}`);
      this.pending = this.pending.slice(at);
      this.carry = "";
      if (spoken && !unspeakable(spoken)) out.push(...this.cut(spoken));
    }
    return out;
  }

  /** ICU sentences, with those ending in an abbreviation joined to the next. */
  private sentences(text: string): string[] {
    const out: string[] = [];
    let joined = "";
    for (const { segment } of this.icu.segment(text)) {
      joined += segment;
      if (ABBREVIATION.test(joined) && !/\n\s*$/.test(joined)) continue;
      out.push(joined);
      joined = "";
    }
    if (joined) out.push(joined);
    return out;
  }

  /** Splits text longer than maxChars at clause, then word boundaries. */
  private cut(text: string): string[] {
    const out: string[] = [];
    let rest = text;
    while (rest.length > this.limits.maxChars) {
      const at = breakPoint(rest, this.limits.maxChars);
      out.push(rest.slice(0, at).trim());
      rest = rest.slice(at).trim();
    }
    if (rest) out.push(rest);
    return out;
  }
}

/** Where to cut text to at most `max` chars: after the last clause mark, else the last space, else hard. */
function breakPoint(text: string, max: number): number {
  const window = text.slice(0, max);
  const clause = Math.max(...[", ", "; ", ": ", " – ", " — "].map((m) => window.lastIndexOf(m)));
  if (clause > max / 3) return clause + 1;
  const space = window.lastIndexOf(" ");
  if (space > max / 3) return space + 1;
  return max;
}
