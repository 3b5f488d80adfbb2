// The bench corpus: pocketsphinx-testdata's real speech (LibriVox with transcripts, goforward, numbers).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseWav } from "@hotpin/audio";
import { TEST_DATA } from "../testing/harness";

export interface Utterance {
  name: string;
  /** Undefined for numbers.raw, which ships without a transcript: compared, but not in the WER. */
  reference?: string;
  pcm: Buffer;
}

export function corpus(): Utterance[] {
  const dir = join(TEST_DATA, "librivox");
  const refs = new Map<string, string>();
  for (const line of readFileSync(join(dir, "transcription"), "utf8").split("\n")) {
    const m = /^(.*)\(([^)]+)\)\s*$/.exec(line.trim());
    if (m?.[1] && m[2]) refs.set(m[2], m[1]);
  }
  const out: Utterance[] = [...refs].map(([id, reference]) => ({
    name: id,
    reference,
    pcm: parseWav(readFileSync(join(dir, `${id}.wav`))).data,
  }));
  out.push({
    name: "goforward",
    reference: "go forward ten meters",
    pcm: readFileSync(join(TEST_DATA, "goforward.raw")),
  });
  out.push({ name: "numbers", pcm: readFileSync(join(TEST_DATA, "numbers.raw")) });
  return out;
}
