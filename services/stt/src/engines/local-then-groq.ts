import type { Engine, Recognizer, Transcript } from "./engine";
import type { GroqEngine } from "./groq";

/**
 * PocketSphinx for the partials a device sees while it speaks, Groq Whisper for the final: the
 * audio goes to both; at the end the local final is computed while Groq transcribes, and
 * Groq's answer wins when it comes within `deadlineMs` of the end. When Groq fails or is late
 * the local final is used (its `fallback` says why), so a slow or broken cloud costs at most the
 * deadline, never the utterance.
 */
export class LocalThenGroqEngine implements Engine {
  readonly name = "pocketsphinx+groq" as const;
  readonly partials = true;

  constructor(
    private readonly local: Engine,
    private readonly remote: GroqEngine,
    private readonly deadlineMs: number,
  ) {}

  open(language?: string): Recognizer | Promise<Recognizer> {
    const local = this.local.open(language);
    return local instanceof Promise ? local.then((l) => this.pair(l, language)) : this.pair(local, language);
  }

  private pair(local: Recognizer, language?: string): Recognizer {
    try {
      return new LocalThenGroqRecognizer(local, this.remote.open(language), this.deadlineMs);
    } catch (err) {
      void local.release();
      throw err;
    }
  }

  /** Each part is counted by its own engine. */
  counts() {
    return { live: 0, idle: 0 };
  }

  /** The parts are the worker's own engines and closed as such. */
  close(): void {}
}

class LocalThenGroqRecognizer implements Recognizer {
  constructor(
    private readonly local: Recognizer,
    private readonly remote: Recognizer,
    private readonly deadlineMs: number,
  ) {}

  accept(pcm: Int16Array): void | Promise<void> {
    this.remote.accept(pcm); // buffers; throws past the utterance limit
    return this.local.accept(pcm);
  }

  partial(): string {
    return this.local.partial();
  }

  async finish(): Promise<Transcript> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<"deadline">((resolve) => {
      timer = setTimeout(() => resolve("deadline"), this.deadlineMs);
    });
    // Started first, so the request is on the wire while the local second pass runs.
    const remote = Promise.resolve()
      .then(() => this.remote.finish())
      .then(
        (t) => ({ ok: true as const, t }),
        () => ({ ok: false as const }),
      );
    try {
      const local = await this.local.finish();
      const answer = await Promise.race([remote, late]);
      if (answer === "deadline") {
        this.remote.interrupt?.();
        return { ...local, engine: "pocketsphinx", fallback: "deadline" };
      }
      if (!answer.ok) return { ...local, engine: "pocketsphinx", fallback: "error" };
      return { ...answer.t, engine: "groq" };
    } finally {
      clearTimeout(timer);
      // A remote call still running after a local failure must not outlive the stream's slot.
      this.remote.interrupt?.();
      await remote;
    }
  }

  interrupt(): void {
    this.remote.interrupt?.();
  }

  release(): void | Promise<void> {
    void this.remote.release();
    return this.local.release();
  }
}
