import type { Reply } from "./dialect";

/** A reply of the given sentences' audio, for dialect tests (no LLM or TTS). */
export function replyOf(text: string, ...pcm: Buffer[]): Reply {
  return {
    segments: (async function* () {
      yield* pcm.map((p, index) => ({ pcm: p, text: index === 0 ? text : "", index }));
    })(),
    text: () => text,
    apology: false,
  };
}
