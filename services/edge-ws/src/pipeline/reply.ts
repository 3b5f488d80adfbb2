import { llm, storage, type tts } from "@hotpin/contracts";
import { deadlineIn } from "@hotpin/runtime";
import type { Reply } from "../dialects/dialect";
import { type Services, unary } from "./services";
import { StageError, stageError } from "./stage-error";

export interface ReplyOptions {
  deviceId: string;
  sessionId: string;
  userText: string;
  history: llm.Turn[];
  image?: llm.Image;
  llmTimeoutMs: number;
  ttsTimeoutMs: number;
  /** PCM bytes the whole reply may take; later sentences are dropped. */
  maxBytes: number;
  /** Timing marks for metrics and the trace. */
  onFirstSegment?: () => void;
  onFirstAudio?: () => void;
  onAnswer?: (text: string, model: string) => void;
}

/**
 * The answer as speech: the LLM stream's sentence segments are spoken one at a time as they
 * arrive, so the first sentence is audio while the model still writes the rest.
 */
export function speakAnswer(services: Services, opts: ReplyOptions): Reply & { cancel(): void } {
  let text = "";
  const spoken: string[] = [];
  const call = services.llm.chat(
    {
      history: opts.history,
      userText: opts.userText,
      image: opts.image,
      systemPrompt: "",
      maxOutputTokens: 0,
      deviceId: opts.deviceId,
      sessionId: opts.sessionId,
    },
    { deadline: deadlineIn(opts.llmTimeoutMs) },
  );
  let ttsCall: { cancel(): void } | undefined;
  async function* segments(): AsyncGenerator<Buffer> {
    let budget = opts.maxBytes;
    let first = true;
    try {
      for await (const res of call as AsyncIterable<llm.ChatResponse>) {
        const ev = res.event;
        if (ev?.$case === "segment" && ev.value.text.trim() && budget > 0) {
          if (first) opts.onFirstSegment?.();
          first = false;
          spoken.push(ev.value.text);
          const pcm = await synthesize(ev.value.text, budget);
          budget -= pcm.length;
          if (pcm.length > 0) yield pcm;
        } else if (ev?.$case === "final") {
          text = ev.value.text;
          opts.onAnswer?.(text, ev.value.model);
        }
      }
    } catch (err) {
      throw err instanceof StageError ? err : stageError("llm", err);
    }
    if (!text) text = spoken.join(" ");
    if (first) throw new StageError("llm", "llm_failed", "the model gave no answer to speak");
  }
  let firstAudio = true;
  function synthesize(sentence: string, budget: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const parts: Buffer[] = [];
      const s = services.tts.synthesize(
        {
          text: "",
          sentences: [sentence],
          voice: undefined,
          sampleRateHz: 16_000,
          maxBytes: budget,
          deviceId: opts.deviceId,
          sessionId: opts.sessionId,
        },
        { deadline: deadlineIn(opts.ttsTimeoutMs) },
      );
      ttsCall = s;
      s.on("data", (res: tts.SynthesizeResponse) => {
        if (res.event?.$case === "chunk" && res.event.value.pcm.length > 0) {
          if (firstAudio) opts.onFirstAudio?.();
          firstAudio = false;
          parts.push(res.event.value.pcm);
        }
      });
      s.on("error", (err) => reject(stageError("tts", err)));
      s.on("end", () => resolve(Buffer.concat(parts)));
    });
  }
  return {
    segments: segments(),
    text: () => text,
    apology: false,
    cancel() {
      call.cancel();
      ttsCall?.cancel();
    },
  };
}

/** The device's conversation so far, oldest first; an unreachable storage means no history. */
export async function loadHistory(services: Services, deviceId: string, limit: number, timeoutMs: number) {
  const res = await unary(services.storage, services.storage.recentTurns, { deviceId, limit }, timeoutMs);
  return res.turns.map(
    (t): llm.Turn => ({
      role: t.role === storage.TurnRole.TURN_ROLE_ASSISTANT ? llm.Role.ROLE_ASSISTANT : llm.Role.ROLE_USER,
      text: t.text,
    }),
  );
}

export async function saveTurns(
  services: Services,
  turn: { deviceId: string; sessionId: string; user: string; assistant: string; hadImage: boolean },
  timeoutMs: number,
): Promise<void> {
  const base = { deviceId: turn.deviceId, sessionId: turn.sessionId, hadImage: turn.hadImage };
  await unary(
    services.storage,
    services.storage.appendTurn,
    { turn: { ...base, role: storage.TurnRole.TURN_ROLE_USER, text: turn.user, time: new Date() } },
    timeoutMs,
  );
  await unary(
    services.storage,
    services.storage.appendTurn,
    { turn: { ...base, role: storage.TurnRole.TURN_ROLE_ASSISTANT, text: turn.assistant, time: new Date() } },
    timeoutMs,
  );
}
