// Splits text into the units synthesised one at a time, so the first audio leaves early and the
// byte cap can cut at a boundary. Intl.Segmenter (ICU, built into Node) knows abbreviations and
// decimals better than a regular expression would.

const segmenter = new Intl.Segmenter("en", { granularity: "sentence" });
const SPEAKABLE = /[\p{L}\p{N}]/u;
// Control characters become spaces: they carry nothing speakable and can confuse the engine.
const CONTROL = /[\p{Cc}\p{Cf}]+/gu;

/**
 * espeak-ng reads `[[...]]` as phoneme mnemonics whatever its options, so text could make it say
 * anything; a space between the brackets leaves them plain characters (espeak-ng says nothing for
 * them). SSML and embedded commands need -m and control characters, neither of which reaches it.
 */
const PHONEME_OPEN = /\[(?=\[)/g;

/** Normalises one sentence; undefined when nothing in it can be spoken. */
export function cleanSentence(raw: string): string | undefined {
  const s = raw.replace(CONTROL, " ").replace(/\s+/g, " ").trim().replace(PHONEME_OPEN, "[ ");
  return SPEAKABLE.test(s) ? s : undefined;
}

/**
 * Cuts a sentence longer than `maxChars` into pieces, preferring a clause boundary
 * (, ; :) and then a space in the second half of the window, so no single engine call is
 * unbounded.
 */
export function splitLong(sentence: string, maxChars: number): string[] {
  const out: string[] = [];
  let rest = sentence;
  while (rest.length > maxChars) {
    const window = rest.slice(0, maxChars + 1);
    const half = Math.floor(maxChars / 2);
    let cut = Math.max(window.lastIndexOf(", "), window.lastIndexOf("; "), window.lastIndexOf(": ")) + 1;
    if (cut <= half) cut = window.lastIndexOf(" ");
    if (cut <= half) cut = maxChars;
    const piece = rest.slice(0, cut).trim();
    if (piece) out.push(piece);
    rest = rest.slice(cut).trim();
  }
  if (rest) out.push(rest);
  return out;
}

/** Sentences of `text`, cleaned, each at most `maxChars` long. */
export function splitSentences(text: string, maxChars: number): string[] {
  const out: string[] = [];
  for (const { segment } of segmenter.segment(text)) {
    const s = cleanSentence(segment);
    if (s) out.push(...splitLong(s, maxChars));
  }
  return out;
}

/** Sentences given by the caller: cleaned and length-bounded the same way, empty ones dropped. */
export function normaliseSentences(given: readonly string[], maxChars: number): string[] {
  const out: string[] = [];
  for (const g of given) {
    const s = cleanSentence(g);
    if (s) out.push(...splitLong(s, maxChars));
  }
  return out;
}
