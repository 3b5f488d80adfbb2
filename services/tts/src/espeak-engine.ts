import { type ChildProcessByStdio, spawn } from "node:child_process";
import { EventEmitter, once } from "node:events";
import type { Readable, Writable } from "node:stream";
import { EngineError, SynthesisCancelledError, UnknownVoiceError } from "./errors";

export interface VoiceParams {
  voice: string;
  rateWpm: number;
  pitch: number;
}

export interface SentenceJob extends VoiceParams {
  text: string;
  sampleRateHz: number;
  /** Stop as soon as the PCM would exceed this many bytes (the request's remaining budget). */
  maxBytes: number;
  signal?: AbortSignal;
  /**
   * Receives the PCM as sox writes it (even-sized pieces, never past maxBytes); the result's
   * `pcm` is then empty. Without it the sentence's PCM comes whole in the result.
   */
  onPcm?: (pcm: Buffer) => void;
}

export type SentenceAudio = { overflow: false; pcm: Buffer } | { overflow: true };

export interface EngineOptions {
  espeakBin: string;
  soxBin: string;
  /** Longest one sentence may take before both processes are killed. */
  timeoutMs: number;
  /**
   * Process pairs kept started and waiting for text, one per recent voice/rate/pitch/sample
   * rate, so a sentence does not wait for two processes to start and load their data. 0: none.
   */
  warmPairs?: number;
}

type Child = ChildProcessByStdio<Writable, Readable, Readable>;

/** One espeak-ng | sox pair, started before (or when) it is given its sentence. */
interface Pair {
  key: string;
  espeak: Child;
  sox: Child;
  exits: { espeak?: number | null; sox?: number | null };
  espeakStderr: string;
  spawnError?: EngineError;
  /** Both processes have gone. */
  closed: boolean;
  /** Called when both processes have gone. */
  onClose?: () => void;
  /** Set once the pair is in use: a process could not be started. */
  onSpawnError?: (err: EngineError) => void;
}

const pairKey = (p: VoiceParams & { sampleRateHz: number }) => `${p.voice}|${p.rateWpm}|${p.pitch}|${p.sampleRateHz}`;

/**
 * espeak-ng piped into sox, one pair of child processes per sentence: all CPU work happens
 * outside this process, and killing the pair stops synthesis at once. espeak-ng writes 22050 Hz
 * WAV to a pipe (with bogus sizes, which sox ignores by reading to EOF); sox resamples with its
 * band-limited `rate -h` filter and writes raw PCM16 LE mono, so no header needs trusting.
 * The text goes to espeak-ng's stdin, never its argv (visible in `ps`, and "-" would parse as an
 * option). Emits "exit" ({ killed }) when both processes of a sentence have gone.
 */
export class EspeakEngine extends EventEmitter<{ exit: [{ killed: boolean }] }> {
  private live = 0;
  /** Started pairs waiting for a sentence, oldest first. */
  private readonly spares: Pair[] = [];
  private closed = false;

  constructor(private readonly options: EngineOptions) {
    super();
  }

  /** Sentence process pairs still alive (killed ones count until they are reaped); spares not included. */
  get running(): number {
    return this.live;
  }

  /** Resolves once every process pair has been reaped (after a cancel, kills are not instant). */
  async idle(): Promise<void> {
    while (this.live > 0) await once(this, "exit");
  }

  /** Stops keeping spares and ends the ones waiting (shutdown). */
  async close(): Promise<void> {
    this.closed = true;
    const spares = this.spares.splice(0);
    for (const p of spares) killPair(p);
    await Promise.all(spares.map((p) => (p.closed ? undefined : new Promise<void>((r) => (p.onClose = r)))));
  }

  synthesize(job: SentenceJob): Promise<SentenceAudio> {
    if (job.signal?.aborted) return Promise.reject(new SynthesisCancelledError());
    return new Promise((resolve, reject) => {
      const { timeoutMs } = this.options;
      const pair = this.take(job);
      const { espeak, sox } = pair;
      this.live++;
      const chunks: Buffer[] = [];
      let bytes = 0;
      let settled = false;
      let killed = false;
      /** An odd byte of a piece, held until the next so every piece handed on is whole samples. */
      let carry: Buffer | undefined;

      const onAbort = () => settle(new SynthesisCancelledError());
      const timer = setTimeout(
        () => settle(new EngineError(`synthesis took longer than ${timeoutMs} ms`, true)),
        timeoutMs,
      );
      job.signal?.addEventListener("abort", onAbort, { once: true });

      function settle(err: Error | undefined, result?: SentenceAudio) {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        job.signal?.removeEventListener("abort", onAbort);
        if (err || result?.overflow) killed = killPair(pair) || killed;
        if (err) reject(err);
        else if (result) resolve(result);
      }

      const onClose = () => {
        this.live--;
        this.emit("exit", { killed });
        const { exits } = pair;
        if (pair.spawnError) settle(pair.spawnError);
        else if (exits.espeak !== 0) {
          settle(
            /voice does not exist/i.test(pair.espeakStderr)
              ? new UnknownVoiceError(`unknown espeak-ng voice "${job.voice}"`)
              : new EngineError(`espeak-ng failed (exit ${exits.espeak})`, false),
          );
        } else if (exits.sox !== 0) {
          settle(new EngineError(`sox failed (exit ${exits.sox})`, false));
        } else {
          settle(undefined, { overflow: false, pcm: Buffer.concat(chunks, bytes) });
          // Spares start only once a sentence is done (so they never delay its first audio) and
          // only for parameters that worked.
          this.refill(job);
        }
      };
      if (pair.spawnError) settle(pair.spawnError);
      pair.onSpawnError = settle;
      pair.onClose = onClose;
      sox.stdout.on("data", (d: Buffer) => {
        if (settled) return;
        if (bytes + d.length > job.maxBytes) {
          settle(undefined, { overflow: true });
          return;
        }
        bytes += d.length;
        if (!job.onPcm) {
          chunks.push(d);
          return;
        }
        let piece = carry ? Buffer.concat([carry, d]) : d;
        carry = undefined;
        if (piece.length % 2 === 1) {
          carry = piece.subarray(piece.length - 1);
          piece = piece.subarray(0, piece.length - 1);
        }
        if (piece.length > 0) job.onPcm(piece);
      });
      espeak.stdin.end(`${job.text}\n`);
    });
  }

  /** Health: speaks a short word through the real pipeline; true or the reason it failed. */
  async check(params: VoiceParams): Promise<true | string> {
    try {
      const r = await this.synthesize({ ...params, text: "ok", sampleRateHz: 16_000, maxBytes: 1 << 20 });
      return r.overflow || r.pcm.length === 0 ? "engine produced no audio" : true;
    } catch (err) {
      return (err as Error).message;
    }
  }

  /** A waiting spare for these parameters, else a new pair. */
  private take(job: SentenceJob): Pair {
    const key = pairKey(job);
    const at = this.spares.findIndex((p) => p.key === key && !p.closed && !p.spawnError);
    return at >= 0 ? (this.spares.splice(at, 1)[0] as Pair) : this.spawnPair(job);
  }

  /** Tops the spares up with pairs for these parameters, making room by ending others' oldest. */
  private refill(params: VoiceParams & { sampleRateHz: number }): void {
    const max = this.options.warmPairs ?? 0;
    const key = pairKey(params);
    while (!this.closed && this.spares.filter((p) => p.key === key).length < max) {
      const other = this.spares.length >= max ? this.spares.findIndex((p) => p.key !== key) : -1;
      if (other >= 0) killPair(this.spares.splice(other, 1)[0] as Pair);
      const spare = this.spawnPair(params);
      // A spare that dies before use (a bad voice, a missing binary) is dropped, not replaced:
      // the sentence that would have used it starts a pair of its own and reports the error.
      spare.onClose = () => {
        const i = this.spares.indexOf(spare);
        if (i >= 0) this.spares.splice(i, 1);
      };
      this.spares.push(spare);
    }
  }

  private spawnPair(p: VoiceParams & { sampleRateHz: number }): Pair {
    const { espeakBin, soxBin } = this.options;
    const espeak: Child = spawn(
      espeakBin,
      ["--stdin", "--stdout", "-b", "1", "-v", p.voice, "-s", String(p.rateWpm), "-p", String(p.pitch)],
      { stdio: ["pipe", "pipe", "pipe"] },
    );
    const sox: Child = spawn(
      soxBin,
      // -D: no dither, so equal requests give equal bytes and silence stays exact zeros.
      // --buffer 1024: sox hands on audio in small blocks, so the first reaches us early.
      [
        "-D",
        "-V1",
        "--buffer",
        "1024",
        "-t",
        "wav",
        "-",
        "-t",
        "raw",
        "-e",
        "signed-integer",
        "-b",
        "16",
        "-c",
        "1",
      ].concat(["-L", "-", "rate", "-h", String(p.sampleRateHz)]),
      { stdio: ["pipe", "pipe", "pipe"] },
    );
    const pair: Pair = { key: pairKey(p), espeak, sox, exits: {}, espeakStderr: "", closed: false };
    const onClose = (which: "espeak" | "sox", code: number | null) => {
      pair.exits[which] = code;
      if (!("espeak" in pair.exits && "sox" in pair.exits)) return;
      pair.closed = true;
      pair.onClose?.();
    };
    const onSpawnError = (bin: string) => (err: NodeJS.ErrnoException) => {
      pair.spawnError ??= new EngineError(`cannot run ${bin}: ${err.code ?? err.message}`, false, { cause: err });
      pair.onSpawnError?.(pair.spawnError);
    };
    espeak.on("error", onSpawnError(espeakBin));
    sox.on("error", onSpawnError(soxBin));
    espeak.on("close", (code) => onClose("espeak", code));
    sox.on("close", (code) => onClose("sox", code));
    // EPIPE when the reader died first: its exit code says why, so these are not errors.
    espeak.stdin.on("error", () => {});
    sox.stdin.on("error", () => {});
    espeak.stderr.on("data", (d: Buffer) => {
      if (pair.espeakStderr.length < 1024) pair.espeakStderr += d.toString("utf8");
    });
    sox.stderr.resume();
    espeak.stdout.pipe(sox.stdin);
    return pair;
  }
}

/** SIGKILLs what is still running of a pair; true when something was. */
function killPair(pair: Pair): boolean {
  let killed = false;
  for (const c of [pair.espeak, pair.sox]) {
    if (c.exitCode === null && c.signalCode === null) {
      killed = true;
      c.kill("SIGKILL");
    }
  }
  return killed;
}
