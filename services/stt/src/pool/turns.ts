import { ENGINE_SAMPLE_RATE } from "../engines/engine";

/** What the turn order reads of a stream: when its audio is due, and when its queued audio came. */
export interface Turn {
  /** When the audio fed so far ends if spoken in real time from when it came; 0 before any. */
  due: number;
  queue: readonly { sentAt: number }[];
}

/**
 * The order in which one worker's streams get their quanta: the one whose next audio is due
 * first (earliest deadline first), which keeps the worst lag of real-time streams as low as the
 * work allows. A stream in the search's expensive stretch (a piece's first frames) gets the
 * thread while the others are ahead of their audio, and they catch up after it. Audio sent
 * faster than real time (a file, a big chunk) is due as if it were being spoken, so it takes the
 * time left over and never holds up a stream that is speaking; audio that comes after a silence
 * is due from when it came, so a backlog cannot claim to be overdue.
 */
export class Turns<T extends Turn> {
  private readonly waiting = new Set<T>();

  get size(): number {
    return this.waiting.size;
  }

  add(stream: T): void {
    this.waiting.add(stream);
  }

  /** Takes the stream whose next quantum is due first out of the line. */
  next(): T | undefined {
    let first: T | undefined;
    for (const s of this.waiting) if (!first || dueAt(s) < dueAt(first)) first = s;
    if (first) this.waiting.delete(first);
    return first;
  }
}

/** The instant a stream's next quantum is due: after the audio before it, and not before it came. */
export function dueAt(stream: Turn): number {
  return Math.max(stream.due, stream.queue[0]?.sentAt ?? 0);
}

/** Books `samples` (at the engine's rate) as fed: the stream's next audio is due that much later. */
export function charge(stream: Turn, samples: number): void {
  stream.due = dueAt(stream) + (samples * 1000) / ENGINE_SAMPLE_RATE;
}
