import type { tts } from "@hotpin/contracts";
import { InvalidRequestError } from "./errors";
import type { VoiceParams } from "./espeak-engine";
import { normaliseSentences, splitSentences } from "./sentences";

export interface PlanLimits {
  voice: string;
  rateWpm: number;
  pitch: number;
  maxBytes: number;
  maxBytesCeiling: number;
  maxTextChars: number;
  maxSentences: number;
  maxSentenceChars: number;
}

export interface Plan extends VoiceParams {
  sentences: string[];
  sampleRateHz: number;
  /** PCM byte budget of the whole request, even (whole samples). */
  maxBytes: number;
}

export const MIN_SAMPLE_RATE_HZ = 8_000;
export const MAX_SAMPLE_RATE_HZ = 48_000;
// espeak-ng voice names and variants ("en-us", "en+f3", "mb-en1"); no dots or slashes, so a
// name can never point at a file outside espeak-ng's voice directory.
const VOICE_NAME = /^[A-Za-z0-9][A-Za-z0-9_+-]{0,63}$/;

/** Validates a request and applies defaults; throws InvalidRequestError naming the problem. */
export function planRequest(req: tts.SynthesizeRequest, limits: PlanLimits): Plan {
  const hasText = req.text.length > 0;
  const hasSentences = req.sentences.length > 0;
  if (hasText && hasSentences) throw new InvalidRequestError("give either text or sentences, not both");
  if (!hasText && !hasSentences) throw new InvalidRequestError("nothing to speak: text and sentences are empty");
  if (req.sentences.length > limits.maxSentences)
    throw new InvalidRequestError(`too many sentences (${req.sentences.length} > ${limits.maxSentences})`);
  const chars = hasText ? req.text.length : req.sentences.reduce((n, s) => n + s.length, 0);
  if (chars > limits.maxTextChars)
    throw new InvalidRequestError(`text too long (${chars} > ${limits.maxTextChars} characters)`);

  const v = req.voice;
  const voice = v?.name ? v.name : limits.voice;
  if (!VOICE_NAME.test(voice)) throw new InvalidRequestError("voice name is not a valid espeak-ng voice name");
  const rateWpm = v?.rateWpm ? v.rateWpm : limits.rateWpm;
  if (rateWpm < 80 || rateWpm > 450) throw new InvalidRequestError("rate_wpm must be 80..450 (or 0 for default)");
  const pitch = v?.pitch ? v.pitch : limits.pitch;
  if (pitch > 99) throw new InvalidRequestError("pitch must be 0..99");
  const sampleRateHz = req.sampleRateHz || 16_000;
  if (sampleRateHz < MIN_SAMPLE_RATE_HZ || sampleRateHz > MAX_SAMPLE_RATE_HZ)
    throw new InvalidRequestError(`sample_rate_hz must be ${MIN_SAMPLE_RATE_HZ}..${MAX_SAMPLE_RATE_HZ} (or 0)`);

  const asked = req.maxBytes > 0 ? req.maxBytes : limits.maxBytes;
  const capped = Math.min(asked, limits.maxBytesCeiling);
  const maxBytes = capped - (capped % 2);

  const sentences = hasText
    ? splitSentences(req.text, limits.maxSentenceChars)
    : normaliseSentences(req.sentences, limits.maxSentenceChars);
  if (sentences.length > limits.maxSentences)
    throw new InvalidRequestError(`too many sentences (${sentences.length} > ${limits.maxSentences})`);
  return { sentences, voice, rateWpm, pitch, sampleRateHz, maxBytes };
}
