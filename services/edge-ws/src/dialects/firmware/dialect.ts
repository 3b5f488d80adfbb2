import { toWav } from "@hotpin/audio";
import { DEVICE_ID_RULE, isValidDeviceId } from "@hotpin/runtime";
import { frames, sendPaced } from "../../pacer";
import type { Output } from "../../session/model";
import { stopOrSilence } from "../../session/turn-detectors";
import type { Transport } from "../../transport";
import {
  type Capabilities,
  type Dialect,
  jsonObject,
  none,
  one,
  type Parsed,
  type PlaybackControl,
  type PlaybackResult,
  type Reply,
  refuse,
} from "../dialect";

/** The firmware's decoder and its send buffer both work in 4096-byte frames. */
export const FIRMWARE_FRAME_BYTES = 4096;
export const NOT_UNDERSTOOD = "Could not understand audio. Please try again.";

export const FIRMWARE_CAPABILITIES: Capabilities = {
  turn: stopOrSilence,
  inputRate: 16_000,
  outputRate: 16_000,
  bargeIn: false,
  announcesState: false,
  partials: false,
  lateAudio: "drop",
};

/**
 * HotPin firmware dialect (docs/protocols/hotpin-firmware.md): `{"session_id"}` handshake, bare PCM
 * frames, `{"signal":"EOS"}`, `status` replies, and one WAV with true header sizes pushed
 * after the `tts` stage, then a zero-length frame and `complete`.
 */
export class FirmwareDialect implements Dialect {
  readonly name = "firmware";
  readonly capabilities = FIRMWARE_CAPABILITIES;

  constructor(private readonly transport: Transport) {}

  text(raw: string): Parsed {
    const json = jsonObject(raw);
    if ("refusal" in json) return json.refusal;
    const m = json.message;
    if (typeof m.session_id === "string") {
      return isValidDeviceId(m.session_id)
        ? one({ type: "hello", deviceId: m.session_id })
        : refuse("bad_device_id", `session_id must be ${DEVICE_ID_RULE}`);
    }
    if (m.signal === "EOS") return one({ type: "stop_recording" });
    if (m.signal === "RESET") return one({ type: "reset" });
    if (m.signal === "NEW_CONVERSATION") return one({ type: "reset_conversation" });
    return refuse("unknown_type", "expected session_id or signal EOS/RESET/NEW_CONVERSATION");
  }

  binary(data: Buffer): Parsed {
    if (data.length === 0) return none;
    if (data.length % 2 !== 0) return refuse("bad_chunk", "PCM16 frames have an even length");
    return one({ type: "audio", pcm: data });
  }

  send(out: Output): void {
    const msg = this.wire(out);
    if (msg) this.transport.sendText(JSON.stringify(msg));
  }

  private wire(out: Output): Record<string, unknown> | undefined {
    switch (out.type) {
      case "connected":
        return { status: "connected", session_id: out.deviceId };
      case "ack":
        return { status: "receiving", chunks_received: out.chunks, bytes_received: out.bytes };
      case "processing":
        return { status: "processing", stage: "transcription" };
      case "transcript":
        return { status: "processing", stage: "llm", transcript: out.text, has_image: out.hasImage };
      case "rerecord":
      case "intervention":
        // The firmware knows one answer for "say it again": this exact error message.
        return { status: "error", message: NOT_UNDERSTOOD };
      case "error":
        return { status: "error", message: out.message, error_type: out.code };
      case "reset_complete":
        return { status: "reset_complete" };
      case "conversation_reset":
        return { status: "conversation_reset" };
      case "complete":
        return { status: "complete" };
      // No firmware counterpart: the answer text travels in the tts stage, pings are WebSocket pings.
      case "partial":
      case "answer":
      case "state":
      case "pong":
      case "image_received":
      case "interrupted": // push-to-talk: never interrupted
        return undefined;
    }
  }

  /**
   * The decoder stops at data_size + 44 bytes, so the header must carry the true size: the
   * whole reply is collected (sentences are synthesised while the LLM still writes) and then
   * pushed at once, paced to the device's 320 KB buffer.
   */
  async play(reply: Reply, ctl: PlaybackControl): Promise<PlaybackResult> {
    const parts: Buffer[] = [];
    for await (const { pcm } of reply.segments) parts.push(pcm);
    const wav = toWav(Buffer.concat(parts));
    this.transport.sendText(JSON.stringify({ status: "processing", stage: "tts", response: reply.text() }));
    const sent = await sendPaced(this.transport, frames(wav, FIRMWARE_FRAME_BYTES), {
      ...ctl.pace,
      onFirstFrame: () => ctl.firstAudio(),
    });
    if (sent < wav.length) return { outcome: "aborted", bytes: sent };
    await ctl.beforeDone(sent);
    this.transport.sendBinary(Buffer.alloc(0));
    return { outcome: "played", bytes: sent };
  }
}
