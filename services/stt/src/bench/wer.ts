/** The same text normalisation for every system compared: lower case, words and apostrophes only. */
export function normalise(text: string): string[] {
  return text
    .toLowerCase()
    .replace(/<\/?s>|<sil>|\([^)]*\)/g, " ")
    .replace(/[^a-z0-9' ]+/g, " ")
    .split(/\s+/)
    .filter(Boolean);
}

/** Word-level edit distance (substitutions, insertions, deletions). */
export function wordEdits(reference: string[], hypothesis: string[]): number {
  let prev = Array.from({ length: hypothesis.length + 1 }, (_, j) => j);
  for (let i = 1; i <= reference.length; i++) {
    const row = [i];
    for (let j = 1; j <= hypothesis.length; j++) {
      const same = reference[i - 1] === hypothesis[j - 1] ? 0 : 1;
      row[j] = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + same);
    }
    prev = row;
  }
  return prev[hypothesis.length] as number;
}

/** Corpus word error rate in percent: all edits over all reference words. */
export function wordErrorRate(pairs: { reference: string; hypothesis: string }[]): number {
  let edits = 0;
  let words = 0;
  for (const { reference, hypothesis } of pairs) {
    const ref = normalise(reference);
    edits += wordEdits(ref, normalise(hypothesis));
    words += ref.length;
  }
  return words === 0 ? 0 : (100 * edits) / words;
}
