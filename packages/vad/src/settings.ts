import { int, num } from "@hotpin/runtime";
import { DEFAULT_BARGE_IN, DEFAULT_LISTENER_OPTIONS, type ListenerOptions } from "./listener";
import type { VadMode } from "./webrtc-vad";

const turn = DEFAULT_LISTENER_OPTIONS.turn;

/** The listener's settings, for the edge to spread into its own: every limit configurable and documented. */
export const listenerSettings = {
  vadMode: int(
    "HOTPIN_VAD_MODE",
    DEFAULT_LISTENER_OPTIONS.mode,
    "WebRTC VAD aggressiveness, 0 (lenient) to 3 (strict)",
    {
      min: 0,
      max: 3,
    },
  ),
  vadEndSilenceMs: int("HOTPIN_VAD_END_SILENCE_MS", turn.endSilenceMs, "silence that ends an always-listening turn", {
    min: 200,
    max: 5_000,
  }),
  vadPreRollMs: int("HOTPIN_VAD_PRE_ROLL_MS", turn.preRollMs, "audio kept from before the speech start", {
    min: 0,
    max: 2_000,
  }),
  vadMinSpeechMs: int("HOTPIN_VAD_MIN_SPEECH_MS", turn.minSpeechMs, "shorter voiced bursts are dropped as noise", {
    min: 0,
    max: 5_000,
  }),
  vadMaxUtteranceMs: int("HOTPIN_VAD_MAX_UTTERANCE_MS", turn.maxUtteranceMs, "an utterance is cut here", {
    min: 1_000,
    max: 300_000,
  }),
  bargeInIgnoreFirstMs: int(
    "HOTPIN_BARGE_IN_IGNORE_FIRST_MS",
    DEFAULT_BARGE_IN.ignoreFirstMs,
    "speech in the first part of a reply never interrupts it",
    { min: 0, max: 10_000 },
  ),
  bargeInMinDbfs: num(
    "HOTPIN_BARGE_IN_MIN_DBFS",
    DEFAULT_BARGE_IN.minDbfs,
    "speech quieter than this (RMS dBFS) never interrupts",
    {
      min: -90,
      max: 0,
    },
  ),
  bargeInMinSpeechMs: int(
    "HOTPIN_BARGE_IN_MIN_SPEECH_MS",
    DEFAULT_BARGE_IN.minSpeechMs,
    "loud speech needed over a reply before it is cancelled",
    { min: 20, max: 5_000 },
  ),
};

export interface ListenerSettingValues {
  vadMode: number;
  vadEndSilenceMs: number;
  vadPreRollMs: number;
  vadMinSpeechMs: number;
  vadMaxUtteranceMs: number;
  bargeInIgnoreFirstMs: number;
  bargeInMinDbfs: number;
  bargeInMinSpeechMs: number;
}

/** Listener options from the settings; barge-in only for devices that do not hear themselves. */
export function listenerOptions(v: ListenerSettingValues, bargeIn: boolean): ListenerOptions {
  return {
    ...DEFAULT_LISTENER_OPTIONS,
    mode: v.vadMode as VadMode,
    turn: {
      ...turn,
      endSilenceMs: v.vadEndSilenceMs,
      preRollMs: v.vadPreRollMs,
      minSpeechMs: v.vadMinSpeechMs,
      maxUtteranceMs: v.vadMaxUtteranceMs,
    },
    bargeIn: bargeIn
      ? {
          ...DEFAULT_BARGE_IN,
          ignoreFirstMs: v.bargeInIgnoreFirstMs,
          minDbfs: v.bargeInMinDbfs,
          minSpeechMs: v.bargeInMinSpeechMs,
        }
      : false,
  };
}
