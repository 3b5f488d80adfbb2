import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EngineUnavailableError } from "./engine";
import { pocketSphinxArgs } from "./pocketsphinx";

/** The wake phrases as PocketSphinx files: a keyphrase list and a dictionary of just their words. */
export interface WakeFiles {
  /** Phrases as spotted, lower case, single spaces. */
  phrases: string[];
  /** Decoder arguments of a keyphrase search over these files. */
  args: string[];
  /** Removes the files (after the workers have stopped). */
  remove(): void;
}

export interface WakeOptions {
  modelDir: string;
  phrases: string[];
  threshold: number;
  phoneLoopProb: number;
  /** "word=PHONES" entries that override or add to the model dictionary. */
  pronunciations: string[];
}

const WORD = /^[a-z']+$/;

/**
 * Builds the keyphrase search's files once, at start-up, so a phrase without a pronunciation is
 * a start-up error rather than a stream error. A dictionary of only the phrase words makes a
 * spotting decoder ~8 ms and a few MB to build instead of the full dictionary's ~0.3 s.
 */
export function prepareWakeFiles(opts: WakeOptions): WakeFiles {
  const phrases = [...new Set(opts.phrases.map((p) => p.toLowerCase().trim().split(/\s+/).join(" ")))];
  const hmm = pocketSphinxArgs(opts.modelDir);
  const dictPath = hmm[hmm.indexOf("-dict") + 1] as string;
  const extra = parsePronunciations(opts.pronunciations);
  const words = new Set(phrases.flatMap((p) => p.split(" ")));
  for (const w of words) {
    if (!WORD.test(w)) throw new EngineUnavailableError(`wake phrase word "${w}" must be letters or apostrophes`);
  }
  const dict = pronounce(words, readDictionary(dictPath), extra);
  const dir = mkdtempSync(join(tmpdir(), "hotpin-wake-"));
  const dictFile = join(dir, "wake.dict");
  const kwsFile = join(dir, "wake.kws");
  writeFileSync(dictFile, [...dict].map(([w, phones]) => `${w} ${phones}\n`).join(""));
  // The kws file format: one phrase per line with its threshold between slashes.
  writeFileSync(kwsFile, phrases.map((p) => `${p} /${opts.threshold.toExponential()}/\n`).join(""));
  return {
    phrases,
    args: [
      "-hmm",
      hmm[hmm.indexOf("-hmm") + 1] as string,
      "-dict",
      dictFile,
      "-kws",
      kwsFile,
      "-kws_plp",
      opts.phoneLoopProb.toExponential(),
    ],
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

function parsePronunciations(entries: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const entry of entries) {
    const [word, phones] = entry.split("=").map((s) => s.trim());
    if (!word || !phones || !WORD.test(word.toLowerCase()) || !/^[A-Z]+( [A-Z]+)*$/.test(phones)) {
      throw new EngineUnavailableError(`HOTPIN_STT_WAKE_PRONUNCIATIONS entry "${entry}" is not word=PHONES`);
    }
    out.set(word.toLowerCase(), phones);
  }
  return out;
}

/** The model dictionary's first pronunciation of each word (alternatives, word(2), are left out). */
function readDictionary(path: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of readFileSync(path, "utf8").split("\n")) {
    const space = line.indexOf(" ");
    if (space <= 0) continue;
    const word = line.slice(0, space);
    if (!word.endsWith(")") && !out.has(word)) out.set(word, line.slice(space + 1).trim());
  }
  return out;
}

/**
 * A pronunciation per word: the configured one, the dictionary's, or that of the fewest
 * dictionary words the word is made of ("hotpin" = "hot" + "pin"); else a clear error.
 */
function pronounce(words: Set<string>, dict: Map<string, string>, extra: Map<string, string>): Map<string, string> {
  const out = new Map<string, string>();
  for (const word of words) {
    const phones = extra.get(word) ?? dict.get(word) ?? compound(word, dict);
    if (!phones) {
      throw new EngineUnavailableError(
        `wake word "${word}" has no pronunciation; add it to HOTPIN_STT_WAKE_PRONUNCIATIONS as ${word}=PHONES`,
      );
    }
    out.set(word, phones);
  }
  return out;
}

/** Splits a word into the fewest dictionary words of two letters or more (dynamic programming). */
function compound(word: string, dict: Map<string, string>): string | undefined {
  const best: (string[] | undefined)[] = [[]];
  for (let end = 1; end <= word.length; end++) {
    for (let start = 0; start <= end - 2; start++) {
      const head = best[start];
      const phones = dict.get(word.slice(start, end));
      if (!head || !phones) continue;
      const candidate = [...head, phones];
      const current = best[end];
      if (!current || candidate.length < current.length) best[end] = candidate;
    }
  }
  const parts = best[word.length];
  return parts && parts.length > 1 ? parts.join(" ") : undefined;
}
