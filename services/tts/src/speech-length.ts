// How long espeak-ng can take to say a sentence, over-estimated from its characters, so the
// speaker knows before the first byte whether a sentence can stream while it is synthesised
// and still never be cut inside by the byte cap.

/** Seconds per character at 175 wpm, measured worst cases of espeak-ng 1.51 (README "Streaming"). */
const COST = {
  /** A letter of a lowercase or capitalised word with a vowel: read as a word (typical 0.06). */
  wordLetter: 0.15,
  /** Other letters (capitals runs, no vowel, "www"): spelled one by one, up to 0.4 ("w"). */
  spelledLetter: 0.45,
  /** Digits: "7777777777777" is read as a number, 0.7 s per digit. */
  digit: 0.8,
  /** ASCII punctuation and symbols said as words ("+" plus, "$" dollar): up to 0.31 alone, more between pauses. */
  asciiSymbol: 0.5,
  /** Anything else (other scripts, emoji, ligatures such as U+FDFA): up to 1.4 seen. */
  other: 1.6,
  /** Each gap between words (a pause at most). */
  space: 0.1,
} as const;

const WORD = /^[A-Z]?[a-z]+$/;
const VOWEL = /[aeiouy]/;

/** Seconds of speech the sentence cannot exceed at 175 wpm (a generous over-estimate). */
export function speechSecondsBound175(text: string): number {
  let seconds = 0;
  for (const token of text.split(/\s+/)) {
    if (!token) continue;
    seconds += COST.space;
    // Sentence punctuation around a word ("word," "(word)") is priced apart from the word.
    const core = token.replace(/^[("'[]+|[)"'\].,;:!?]+$/g, "");
    seconds += (token.length - core.length) * COST.asciiSymbol;
    if (WORD.test(core) && VOWEL.test(core.toLowerCase())) {
      seconds += core.length * COST.wordLetter;
      continue;
    }
    for (const ch of core) {
      if (/[A-Za-z]/.test(ch)) seconds += COST.spelledLetter;
      else if (/[0-9]/.test(ch)) seconds += COST.digit;
      else if (/[\x21-\x7e]/.test(ch)) seconds += COST.asciiSymbol;
      else seconds += COST.other;
    }
  }
  return seconds;
}

/** PCM16 bytes the sentence cannot exceed at this rate and sample rate. */
export function speechBytesBound(text: string, rateWpm: number, sampleRateHz: number): number {
  // espeak-ng's durations scale with 1/rate (measured: 80 wpm takes 2.0-2.2× as long as 175).
  const seconds = speechSecondsBound175(text) * (175 / rateWpm) * 1.1;
  return Math.ceil(seconds * sampleRateHz) * 2;
}
