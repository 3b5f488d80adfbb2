import type { events } from "@hotpin/contracts";

/** snake_case for the observer stream's field and event names (docs/protocols/hotpin-spec.md, observer stream). */
function snake(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** Payload fields not shown to observers. */
const HIDDEN = new Set(["remoteAddress"]);

/**
 * One event in the observer stream's shape (docs/protocols/hotpin-spec.md, observer stream):
 * `{"event":"transcription","text","is_final","session_id",…}` for partial and final transcripts,
 * and `{"event":<snake_case type>, …fields}` for every other event type.
 */
export function observerMessage(e: events.Event): Record<string, unknown> | undefined {
  const p = e.payload;
  if (!p) return undefined;
  const common = {
    session_id: e.sessionId,
    device_id: e.deviceId,
    edge_instance: e.edgeInstance,
    timestamp: e.time ? e.time.getTime() / 1000 : Date.now() / 1000,
    id: e.id,
  };
  if (p.$case === "partial") {
    return { event: "transcription", text: p.value.text, is_final: false, utterance: p.value.utterance, ...common };
  }
  if (p.$case === "transcript") {
    return {
      event: "transcription",
      text: p.value.text,
      is_final: true,
      utterance: p.value.utterance,
      confidence: p.value.confidence,
      duration_ms: p.value.durationMs,
      ...common,
    };
  }
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(p.value)) if (!HIDDEN.has(k)) fields[snake(k)] = v;
  return { event: snake(p.$case), ...fields, ...common };
}
