import { Resampler } from "../../../src/audio/resample";

/**
 * The browser's microphone as 16 kHz PCM16: getUserMedia → an audio worklet that copies the
 * samples out → Resampler (from the context's rate, usually 48 kHz) → `onPcm` in whole chunks of
 * `chunkBytes`. `stop()` hands over what is left (an even number of bytes) and releases the mic.
 */
export class Microphone {
  private stream: MediaStream | undefined;
  private node: AudioWorkletNode | undefined;
  private source: MediaStreamAudioSourceNode | undefined;
  private resampler: Resampler | undefined;
  private pending: Int16Array[] = [];
  private pendingSamples = 0;
  private capturing = false;

  constructor(
    private readonly ctx: AudioContext,
    private readonly chunkBytes: number,
    private readonly onPcm: (chunk: Uint8Array) => void,
  ) {}

  /** Asks for the microphone once and keeps it open (so push-to-talk starts at once). */
  async open(): Promise<void> {
    if (this.stream) return;
    this.stream = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true },
    });
    await this.ctx.audioWorklet.addModule("/capture-worklet.js");
    this.source = this.ctx.createMediaStreamSource(this.stream);
    this.node = new AudioWorkletNode(this.ctx, "hotpin-capture");
    this.node.port.onmessage = (e) => this.onSamples(e.data as Float32Array);
    this.source.connect(this.node);
  }

  start(): void {
    this.resampler = new Resampler(this.ctx.sampleRate, 16_000);
    this.pending = [];
    this.pendingSamples = 0;
    this.capturing = true;
  }

  stop(): void {
    this.capturing = false;
    this.flush(true);
  }

  close(): void {
    this.capturing = false;
    this.node?.disconnect();
    this.source?.disconnect();
    for (const t of this.stream?.getTracks() ?? []) t.stop();
    this.stream = undefined;
  }

  private onSamples(samples: Float32Array): void {
    if (!this.capturing || !this.resampler) return;
    const pcm = this.resampler.push(samples);
    this.pending.push(pcm);
    this.pendingSamples += pcm.length;
    this.flush(false);
  }

  private flush(all: boolean): void {
    const per = this.chunkBytes / 2;
    while (this.pendingSamples >= per || (all && this.pendingSamples > 0)) {
      const n = Math.min(per, this.pendingSamples);
      const out = new Int16Array(n);
      let filled = 0;
      while (filled < n) {
        const head = this.pending[0]!;
        const take = Math.min(head.length, n - filled);
        out.set(head.subarray(0, take), filled);
        filled += take;
        if (take === head.length) this.pending.shift();
        else this.pending[0] = head.subarray(take);
      }
      this.pendingSamples -= n;
      this.onPcm(new Uint8Array(out.buffer));
    }
  }
}
