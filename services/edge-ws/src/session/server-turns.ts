import { type ListenerEvent, listenerOptions } from "@hotpin/vad";
import { CLOSE_CODES } from "../transport";
import { nextState, onUserSpeech } from "./model";
import type { Recorder } from "./recording";
import type { SessionCore } from "./session-core";
import { VadTurns } from "./vad-turns";
import type { WakeWords } from "./wake-words";

/**
 * The turns of a session whose server decides where speech starts and ends (the `vad` turn
 * detector): its audio goes to the listener (session/vad-turns.ts) and to wake-word spotting,
 * and the listener's events start, feed, end or drop the recordings and interrupt replies.
 */
export class ServerTurns {
  private readonly vad: VadTurns;
  /** Wake-word spotting on the continuous stream (HOTPIN_EDGE_WAKE_WORDS), once the device is known. */
  private wake: WakeWords | undefined;

  constructor(
    private readonly core: SessionCore,
    private readonly recorder: Recorder,
  ) {
    this.vad = new VadTurns(
      listenerOptions(core.deps.cfg, core.caps.bargeIn),
      (events) => this.listened(events),
      (err) => {
        core.log.error({ err: err.message }, "voice activity detector unavailable");
        core.hangUp("internal", "voice activity detector unavailable", CLOSE_CODES.internal, "vad unavailable");
      },
    );
  }

  /** The device is known: spotting starts (identification.ts makes it, when configured). */
  spotWith(wake: WakeWords | undefined): void {
    this.wake = wake;
  }

  /** The device's own wake-word detection (xiaozhi `listen detect`) counts as the server's. */
  deviceHeardWakeWord(): void {
    this.wake?.heard();
  }

  /** Audio of a session whose turns the server decides: the VAD's, or a manual turn's as it is. */
  listen(pcm: Buffer, seq: number | undefined): void {
    if (this.core.state === "connected" || pcm.length === 0) return;
    this.wake?.write(pcm);
    if (this.recorder.current?.manual) this.recorder.add(pcm, seq);
    else this.vad.push(pcm);
  }

  /** A turn the device takes itself (xiaozhi manual mode): the pre-roll is forgotten. */
  manualTurn(): void {
    this.vad.reset();
  }

  playbackStarted(): void {
    this.vad.playbackStarted();
  }

  playbackEnded(): void {
    this.vad.playbackEnded();
  }

  free(): void {
    this.vad.free();
    this.wake?.stop();
  }

  /** The listener's turn events (packages/vad README), in order. */
  private listened(events: ListenerEvent[]): void {
    const { core, recorder } = this;
    for (const e of events) {
      if (core.closed) return;
      const vadTurn = recorder.current !== undefined && !recorder.current.manual;
      switch (e.type) {
        case "barge-in":
          core.interrupt("barge_in");
          break;
        case "start": {
          core.userMoves("speech_started");
          const action = onUserSpeech(core.state, core.caps.bargeIn);
          if (action === "interrupt") core.interrupt("barge_in");
          if (action === "ignore" || !nextState(core.state, "start_recording")) break;
          // The pre-roll and the frames that decided the start: the first syllable is kept.
          if (recorder.begin(false)) recorder.add(e.audio, undefined);
          break;
        }
        case "audio":
          if (vadTurn) recorder.add(e.audio, undefined);
          break;
        case "end":
          core.userMoves("speech_ended");
          if (vadTurn && core.state === "recording") {
            core.log.debug({ reason: e.reason, speechMs: e.speechMs }, "end of speech");
            this.endTurn();
          }
          break;
        case "discard":
          core.userMoves("speech_ended");
          if (vadTurn) {
            recorder.drop();
            core.move("speech_discarded", "Listening");
          }
          break;
      }
    }
  }

  /** The VAD ended the turn: it is answered, unless wake words are required and none was heard. */
  private endTurn(): void {
    const { core, recorder, wake } = this;
    const rec = recorder.current;
    if (!wake?.required || wake.recent()) {
      recorder.stop();
      return;
    }
    void wake.late().then((answer) => {
      if (core.closed || recorder.current !== rec || core.state !== "recording") return;
      if (answer) {
        recorder.stop();
        return;
      }
      core.log.debug("turn without a wake word dropped");
      core.emit({ type: "utterance_ended", outcome: "no_wake_word" });
      recorder.drop();
      core.move("speech_discarded", "Listening");
    });
  }
}
