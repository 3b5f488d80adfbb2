import type { stt } from "@hotpin/contracts";
import type { RerecordReason } from "./model";

export interface RerecordPolicy {
  minConfidence: number;
  minDurationMs: number;
  silenceRms: number;
  loudRms: number;
  maxClippingRatio: number;
}

/**
 * The seed's re-record triggers, judged on the STT service's own measures of the utterance.
 * Audio problems come first: a transcript of silence or of clipping is not worth keeping.
 */
export function rerecordReason(final: stt.FinalResult, p: RerecordPolicy): RerecordReason | undefined {
  const q = final.quality;
  if (q) {
    if (q.durationMs < p.minDurationMs) return "too_short";
    if (q.rms < p.silenceRms) return "silence";
    if (q.rms > p.loudRms || q.clippingRatio > p.maxClippingRatio) return "too_loud";
  }
  if (final.text.trim() === "") return "empty_transcript";
  if (final.confidence < p.minConfidence) return "low_confidence";
  return undefined;
}
