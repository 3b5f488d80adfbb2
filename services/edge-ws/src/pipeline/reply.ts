import type { Readable } from "node:stream";
import { llm, storage, type tts } from "@hotpin/contracts";
import { deadlineIn } from "@hotpin/runtime";
import type { Reply, ReplySegment } from "../dialects/dialect";
import { type RetryHooks, type RetryPolicy, retryRefused } from "./retry";
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
  /** The dialect's output rate: TTS speaks at it, so nothing is resampled on the way out. */
  sampleRateHz: number;
  /** PCM bytes the whole reply may take; later sentences are dropped. */
  maxBytes: number;
  /** A sentence's TTS call refused before any audio (busy, restarting) is tried again. */
  ttsRetry?: RetryPolicy & RetryHooks;
  /** Timing marks for metrics and the trace. */
  onFirstSegment?: () => void;
  onFirstAudio?: () => void;
  /** The LLM's final text, as soon as it arrives (the last sentence may still be in synthesis). */
  onFinal?: (text: string, model: string) => void;
  /** The final text in the reply's order, after its last sentence: awaited before the reply ends. */
  onAnswer?: (text: string) => Promise<void>;
}

/**
 * The answer as speech: the LLM stream's sentence segments are spoken one at a time as they
 * arrive, so the first sentence is audio while the model still writes the rest. The stream is
 * read ahead of the synthesis, so its final text is known (and stored) before the last
 * sentence's audio is ready, not after.
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
  const events = readAhead<llm.ChatResponse>(call, (res) => {
    const ev = res.event;
    if (ev?.$case === "final") {
      text = ev.value.text;
      opts.onFinal?.(text, ev.value.model);
    }
  });
  let ttsCall: { cancel(): void } | undefined;
  let cancelled = false;
  async function* segments(): AsyncGenerator<ReplySegment> {
    let budget = opts.maxBytes;
    let first = true;
    let index = 0;
    try {
      for await (const res of events) {
        const ev = res.event;
        if (ev?.$case === "segment" && ev.value.text.trim() && budget > 0) {
          if (first) opts.onFirstSegment?.();
          first = false;
          spoken.push(ev.value.text);
          const pcm = await synthesize(ev.value.text, budget);
          budget -= pcm.length;
          if (pcm.length > 0) yield { pcm, text: ev.value.text, index: index++ };
        } else if (ev?.$case === "final") {
          await opts.onAnswer?.(text);
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
    const retry = opts.ttsRetry ?? { retries: 0, baseMs: 1, capMs: 1 };
    return retryRefused(
      (ms) => synthesizeOnce(sentence, budget, ms),
      retry,
      Date.now() + opts.ttsTimeoutMs,
      retry,
    ).catch((err) => {
      throw stageError("tts", err);
    });
  }
  /** Rejects with the gRPC error while nothing was heard (retryable), a StageError after. */
  function synthesizeOnce(sentence: string, budget: number, timeoutMs: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      if (cancelled) return reject(new StageError("tts", "tts_failed", "reply cancelled"));
      const parts: Buffer[] = [];
      const s = services.tts.synthesize(
        {
          text: "",
          sentences: [sentence],
          voice: undefined,
          sampleRateHz: opts.sampleRateHz,
          maxBytes: budget,
          deviceId: opts.deviceId,
          sessionId: opts.sessionId,
        },
        { deadline: deadlineIn(timeoutMs) },
      );
      ttsCall = s;
      s.on("data", (res: tts.SynthesizeResponse) => {
        if (res.event?.$case === "chunk" && res.event.value.pcm.length > 0) {
          if (firstAudio) opts.onFirstAudio?.();
          firstAudio = false;
          parts.push(res.event.value.pcm);
        }
      });
      s.on("error", (err) => reject(parts.length > 0 ? stageError("tts", err) : err));
      s.on("end", () => resolve(Buffer.concat(parts)));
    });
  }
  return {
    segments: segments(),
    // Cut off before the model's final text (barge-in): what it had said so far.
    text: () => text || spoken.join(" "),
    apology: false,
    cancel() {
      cancelled = true;
      call.cancel();
      ttsCall?.cancel();
    },
  };
}

/**
 * Reads a gRPC response stream to its end whatever the consumer's pace (the reply's consumer
 * waits on a sentence's synthesis): `onItem` sees each response as it arrives, the iterator
 * returned yields them in order, then the stream's error if it ended with one. Bounded by the
 * stream: an LLM answer is text, within its own output limit.
 */
async function* readAhead<T>(stream: Readable, onItem: (item: T) => void): AsyncGenerator<T> {
  const items: T[] = [];
  let ended: { error?: unknown } | undefined;
  let wake: (() => void) | undefined;
  const early = catchEarly(stream);
  void (async () => {
    try {
      for await (const item of stream as AsyncIterable<T>) {
        onItem(item);
        items.push(item);
        wake?.();
      }
      early.rethrow();
      ended = {};
    } catch (error) {
      ended = { error };
    }
    wake?.();
  })();
  for (;;) {
    if (items.length > 0) yield items.shift() as T;
    else if (ended) {
      if ("error" in ended) throw ended.error;
      return;
    } else await new Promise<void>((resolve) => (wake = resolve));
  }
}

/**
 * Keeps an error a stream emits before anyone iterates it (an 'error' event without a listener
 * throws). grpc-js ends the stream before emitting the error, so a late loop sees a clean end:
 * `rethrow()` after the loop reports the error that ended it.
 */
function catchEarly(stream: NodeJS.EventEmitter): { rethrow(): void } {
  let error: unknown;
  stream.on("error", (err) => {
    error ??= err;
  });
  return {
    rethrow() {
      if (error !== undefined) throw error;
    },
  };
}

/**
 * Operator speech (the `say` command): the whole text to the TTS service, which splits it into
 * sentences; one PCM buffer per sentence, within maxBytes.
 */
export function speakText(
  services: Services,
  opts: {
    deviceId: string;
    sessionId: string;
    text: string;
    ttsTimeoutMs: number;
    maxBytes: number;
    sampleRateHz: number;
  },
): Reply & { cancel(): void } {
  const call = services.tts.synthesize(
    {
      text: opts.text,
      sentences: [],
      voice: undefined,
      sampleRateHz: opts.sampleRateHz,
      maxBytes: opts.maxBytes,
      deviceId: opts.deviceId,
      sessionId: opts.sessionId,
    },
    { deadline: deadlineIn(opts.ttsTimeoutMs) },
  );
  // `say` awaits queued outputs before playback reads this stream (see speakAnswer).
  const early = catchEarly(call);
  // TTS splits the text and names no sentence: the first segment carries the whole text.
  let index = 0;
  const segment = (parts: Buffer[]): ReplySegment => ({
    pcm: Buffer.concat(parts),
    text: index === 0 ? opts.text : "",
    index: index++,
  });
  async function* segments(): AsyncGenerator<ReplySegment> {
    let sentence = -1;
    let parts: Buffer[] = [];
    let any = false;
    try {
      for await (const res of call as AsyncIterable<tts.SynthesizeResponse>) {
        if (res.event?.$case !== "chunk" || res.event.value.pcm.length === 0) continue;
        const { pcm, sentenceIndex } = res.event.value;
        if (sentenceIndex !== sentence && parts.length > 0) {
          yield segment(parts);
          parts = [];
        }
        sentence = sentenceIndex;
        parts.push(pcm);
        any = true;
      }
      early.rethrow();
    } catch (err) {
      throw stageError("tts", err);
    }
    if (parts.length > 0) yield segment(parts);
    if (!any) throw new StageError("tts", "tts_failed", "the text gave no speech");
  }
  return { segments: segments(), text: () => opts.text, apology: false, cancel: () => call.cancel() };
}

/**
 * The device's conversation so far, oldest first, at most `maxChars` of text (the newest turns
 * are kept); an unreachable storage means no history. Storage bounds the turn count and
 * forgets a conversation idle for its configured time.
 */
export async function loadHistory(
  services: Services,
  deviceId: string,
  limit: number,
  timeoutMs: number,
  maxChars = Number.POSITIVE_INFINITY,
) {
  const res = await unary(services.storage, services.storage.recentTurns, { deviceId, limit }, timeoutMs);
  return boundHistory(
    res.turns.map(
      (t): llm.Turn => ({
        role: t.role === storage.TurnRole.TURN_ROLE_ASSISTANT ? llm.Role.ROLE_ASSISTANT : llm.Role.ROLE_USER,
        text: t.text,
      }),
    ),
    maxChars,
  );
}

/** The newest turns whose text fits in maxChars, oldest first. */
export function boundHistory(turns: llm.Turn[], maxChars: number): llm.Turn[] {
  let total = 0;
  let from = turns.length;
  while (from > 0) {
    const next = total + (turns[from - 1]?.text.length ?? 0);
    if (next > maxChars) break;
    total = next;
    from--;
  }
  return turns.slice(from);
}

export async function clearConversation(services: Services, deviceId: string, timeoutMs: number): Promise<void> {
  await unary(services.storage, services.storage.clearConversation, { deviceId }, timeoutMs);
}

export async function saveTurns(
  services: Services,
  turn: {
    deviceId: string;
    sessionId: string;
    user: string;
    assistant: string;
    hadImage: boolean;
    interrupted?: boolean;
  },
  timeoutMs: number,
): Promise<void> {
  const base = { deviceId: turn.deviceId, sessionId: turn.sessionId, hadImage: turn.hadImage };
  await unary(
    services.storage,
    services.storage.appendTurn,
    { turn: { ...base, role: storage.TurnRole.TURN_ROLE_USER, text: turn.user, time: new Date(), interrupted: false } },
    timeoutMs,
  );
  await unary(
    services.storage,
    services.storage.appendTurn,
    {
      turn: {
        ...base,
        role: storage.TurnRole.TURN_ROLE_ASSISTANT,
        text: turn.assistant,
        time: new Date(),
        interrupted: turn.interrupted ?? false,
      },
    },
    timeoutMs,
  );
}
