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
}

export type SentenceAudio = { overflow: false; pcm: Buffer } | { overflow: true };

export interface EngineOptions {
  espeakBin: string;
  soxBin: string;
  /** Longest one sentence may take before both processes are killed. */
  timeoutMs: number;
}

type Child = ChildProcessByStdio<Writable, Readable, Readable>;

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

  constructor(private readonly options: EngineOptions) {
    super();
  }

  /** Sentence process pairs still alive (killed ones count until they are reaped). */
  get running(): number {
    return this.live;
  }

  /** Resolves once every process pair has been reaped (after a cancel, kills are not instant). */
  async idle(): Promise<void> {
    while (this.live > 0) await once(this, "exit");
  }

  synthesize(job: SentenceJob): Promise<SentenceAudio> {
    if (job.signal?.aborted) return Promise.reject(new SynthesisCancelledError());
    return new Promise((resolve, reject) => {
      const { espeakBin, soxBin, timeoutMs } = this.options;
      const espeak: Child = spawn(
        espeakBin,
        ["--stdin", "--stdout", "-b", "1", "-v", job.voice, "-s", String(job.rateWpm), "-p", String(job.pitch)],
        { stdio: ["pipe", "pipe", "pipe"] },
      );
      const sox: Child = spawn(
        soxBin,
        // -D: no dither, so equal requests give equal bytes and silence stays exact zeros.
        ["-D", "-V1", "-t", "wav", "-", "-t", "raw", "-e", "signed-integer", "-b", "16", "-c", "1", "-L", "-"].concat([
          "rate",
          "-h",
          String(job.sampleRateHz),
        ]),
        { stdio: ["pipe", "pipe", "pipe"] },
      );
      this.live++;
      const chunks: Buffer[] = [];
      let bytes = 0;
      let espeakStderr = "";
      let settled = false;
      let killed = false;
      const exits: { espeak?: number | null; sox?: number | null } = {};

      const kill = () => {
        for (const c of [espeak, sox]) {
          if (c.exitCode === null && c.signalCode === null) {
            killed = true;
            c.kill("SIGKILL");
          }
        }
      };
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
        if (err || result?.overflow) kill();
        if (err) reject(err);
        else if (result) resolve(result);
      }

      const onClose = (which: "espeak" | "sox", code: number | null) => {
        exits[which] = code;
        if (!("espeak" in exits && "sox" in exits)) return;
        this.live--;
        this.emit("exit", { killed });
        if (exits.espeak !== 0) {
          settle(
            /voice does not exist/i.test(espeakStderr)
              ? new UnknownVoiceError(`unknown espeak-ng voice "${job.voice}"`)
              : new EngineError(`espeak-ng failed (exit ${exits.espeak})`, false),
          );
        } else if (exits.sox !== 0) {
          settle(new EngineError(`sox failed (exit ${exits.sox})`, false));
        } else {
          settle(undefined, { overflow: false, pcm: Buffer.concat(chunks, bytes) });
        }
      };
      const onSpawnError = (bin: string) => (err: NodeJS.ErrnoException) =>
        settle(new EngineError(`cannot run ${bin}: ${err.code ?? err.message}`, false, { cause: err }));

      espeak.on("error", onSpawnError(espeakBin));
      sox.on("error", onSpawnError(soxBin));
      espeak.on("close", (code) => onClose("espeak", code));
      sox.on("close", (code) => onClose("sox", code));
      // EPIPE when the reader died first: its exit code says why, so these are not errors.
      espeak.stdin.on("error", () => {});
      sox.stdin.on("error", () => {});
      espeak.stderr.on("data", (d: Buffer) => {
        if (espeakStderr.length < 1024) espeakStderr += d.toString("utf8");
      });
      sox.stderr.resume();
      espeak.stdout.pipe(sox.stdin);
      sox.stdout.on("data", (d: Buffer) => {
        if (settled) return;
        bytes += d.length;
        if (bytes > job.maxBytes) settle(undefined, { overflow: true });
        else chunks.push(d);
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
}
