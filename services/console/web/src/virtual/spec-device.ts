/**
 * A spec-dialect device (docs: seed 000) over the edge's /ws, as a HotPin would speak it:
 * hello → ready; recording_started, audio_chunk_meta + binary PCM16 per chunk, recording_stopped;
 * then partial/transcript/llm from the server, tts_ready (answered with ready_for_playback),
 * tts_chunk_meta + binary WAV parts, tts_done (answered with playback_complete once played).
 */
export type DeviceEvent =
  | { kind: "status"; text: string }
  | { kind: "ready" }
  | { kind: "partial"; text: string }
  | { kind: "transcript"; text: string }
  | { kind: "answer"; text: string }
  | { kind: "reply"; wav: Uint8Array }
  | { kind: "rerecord"; reason: string }
  | { kind: "intervention"; message: string }
  | { kind: "state"; state: string }
  | { kind: "error"; code: string; message: string }
  | { kind: "download"; url: string }
  | { kind: "closed"; code: number; reason: string };

export class SpecDevice {
  private ws: WebSocket | undefined;
  private seq = 0;
  private chunkMeta: { seq: number; len: number } | undefined;
  private replyParts: Uint8Array[] = [];

  constructor(
    private readonly url: string,
    private readonly deviceId: string,
    private readonly onEvent: (e: DeviceEvent) => void,
  ) {}

  connect(): void {
    const ws = new WebSocket(this.url);
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    ws.onopen = () => {
      this.onEvent({ kind: "status", text: "connected; saying hello" });
      this.send({
        type: "hello",
        session: this.deviceId,
        device: "hotpin-console",
        capabilities: { psram: false, max_chunk_bytes: 16000 },
      });
    };
    ws.onmessage = (e) => this.onMessage(e.data as string | ArrayBuffer);
    ws.onclose = (e) => this.onEvent({ kind: "closed", code: e.code, reason: e.reason });
    ws.onerror = () => this.onEvent({ kind: "status", text: "socket error" });
  }

  get open(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  startRecording(): void {
    this.seq = 0;
    this.send({ type: "recording_started", ts: Date.now() });
  }

  sendChunk(pcm: Uint8Array): void {
    if (!this.open || pcm.length === 0) return;
    this.seq++;
    this.send({ type: "audio_chunk_meta", seq: this.seq, len_bytes: pcm.length });
    this.ws!.send(pcm);
  }

  stopRecording(): void {
    this.send({ type: "recording_stopped" });
  }

  playbackComplete(): void {
    this.send({ type: "playback_complete" });
  }

  resetConversation(): void {
    this.send({ type: "reset_conversation" });
  }

  close(): void {
    this.ws?.close(1000, "closed by the console");
  }

  private send(m: Record<string, unknown>): void {
    if (this.open) this.ws!.send(JSON.stringify(m));
  }

  private onMessage(data: string | ArrayBuffer): void {
    if (typeof data !== "string") {
      if (!this.chunkMeta) return;
      this.replyParts.push(new Uint8Array(data));
      this.chunkMeta = undefined;
      return;
    }
    let m: Record<string, unknown>;
    try {
      m = JSON.parse(data) as Record<string, unknown>;
    } catch {
      return;
    }
    const s = (k: string) => (typeof m[k] === "string" ? (m[k] as string) : "");
    switch (m.type) {
      case "ready":
        this.onEvent({ kind: "ready" });
        break;
      case "partial":
        this.onEvent({ kind: "partial", text: s("text") });
        break;
      case "transcript":
        this.onEvent({ kind: "transcript", text: s("text") });
        break;
      case "llm":
        this.onEvent({ kind: "answer", text: s("text") });
        break;
      case "tts_ready":
        // Segmented replies are not asked for (no tts_segments capability): one WAV per reply.
        this.replyParts = [];
        this.send({ type: "ready_for_playback" });
        break;
      case "tts_chunk_meta":
        this.chunkMeta = { seq: Number(m.seq), len: Number(m.len_bytes ?? m.len) };
        break;
      case "tts_done": {
        const total = this.replyParts.reduce((a, p) => a + p.length, 0);
        const wav = new Uint8Array(total);
        let at = 0;
        for (const p of this.replyParts) {
          wav.set(p, at);
          at += p.length;
        }
        this.replyParts = [];
        this.onEvent({ kind: "reply", wav });
        break;
      }
      case "request_rerecord":
        this.onEvent({ kind: "rerecord", reason: s("reason") });
        break;
      case "request_user_intervention":
        this.onEvent({ kind: "intervention", message: s("message") });
        break;
      case "state_sync":
        this.onEvent({ kind: "state", state: s("server_state") });
        break;
      case "offer_download":
        this.onEvent({ kind: "download", url: s("url") });
        break;
      case "error":
        this.onEvent({ kind: "error", code: s("code"), message: s("message") });
        break;
    }
  }
}
