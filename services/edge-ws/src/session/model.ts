/**
 * The one internal session model every dialect translates to and from. Inputs are what a
 * device asked for, outputs what the server tells it; neither knows about any wire format.
 */

export const STATES = [
  "connected",
  "idle",
  "recording",
  "processing",
  "playing",
  "camera_uploading",
  "stalled",
  "shutdown",
] as const;
export type State = (typeof STATES)[number];

export type Input =
  | { type: "hello"; deviceId?: string; maxChunkBytes?: number; ttsSegments?: boolean }
  | { type: "client_on" }
  | { type: "start_recording" }
  | { type: "audio"; pcm: Buffer; seq?: number }
  | { type: "stop_recording" }
  | { type: "image_captured" }
  | { type: "ready_for_playback" }
  | { type: "playback_complete" }
  | { type: "reset" }
  | { type: "reset_conversation" }
  | { type: "ping" }
  /** The device stops the reply (xiaozhi `abort`): the same cancel path as a barge-in, without a new turn. */
  | { type: "abort" }
  /** A wake word the device spotted itself (xiaozhi `listen detect`): an event, no move. */
  | { type: "wake_word"; word: string };

export type InputType = Input["type"];

/** Machine-readable error codes sent to devices and put in events. */
export type ErrorCode =
  | "bad_json"
  | "unknown_type"
  | "bad_message"
  | "bad_device_id"
  | "bad_chunk"
  | "binary_without_meta"
  | "meta_without_binary"
  | "illegal_state"
  | "rate_limited"
  | "recording_too_long"
  | "disk_quota"
  | "unauthorized"
  | "replaced"
  | "stt_failed"
  | "llm_failed"
  | "llm_unconfigured"
  | "tts_failed"
  | "not_understood"
  | "storage_failed"
  | "shutting_down"
  | "bad_packet"
  | "bad_handshake"
  | "bad_audio"
  | "transfer_timeout";

export type RerecordReason =
  | "empty_transcript"
  | "low_confidence"
  | "too_short"
  | "silence"
  | "too_loud"
  | "disconnected"
  | "stalled"
  | "chunks_lost"
  | "operator";

export type Output =
  | { type: "connected"; deviceId: string; sessionId: string }
  | { type: "ack"; chunks: number; bytes: number; seq?: number }
  | { type: "partial"; text: string }
  | { type: "processing" }
  | { type: "transcript"; text: string; hasImage: boolean }
  | { type: "answer"; text: string }
  | { type: "rerecord"; reason: RerecordReason; attempt: number }
  | { type: "intervention"; message: string }
  | { type: "error"; code: ErrorCode; message: string }
  | { type: "state"; state: State; message: string }
  | { type: "pong" }
  | { type: "reset_complete" }
  | { type: "image_received" }
  | { type: "conversation_reset" }
  | { type: "complete" }
  /**
   * The reply was cut off (barge-in or the device's abort): its audio has stopped, no `complete`
   * follows. Sent at once, before the new user turn's outputs.
   */
  | { type: "interrupted"; by: "barge_in" | "device" };

/** Which inputs each state accepts, and where they lead; anything else is illegal there. */
const TRANSITIONS: Record<State, Partial<Record<InputType, State>>> = {
  connected: { hello: "idle", client_on: "connected", ping: "connected" },
  idle: {
    hello: "idle",
    client_on: "idle",
    start_recording: "recording",
    image_captured: "camera_uploading",
    reset: "idle",
    reset_conversation: "idle",
    ping: "idle",
    // Re-sent after a reply by clients that finish playback late.
    playback_complete: "idle",
    abort: "idle",
    wake_word: "idle",
  },
  camera_uploading: {
    start_recording: "recording",
    image_captured: "camera_uploading",
    reset: "idle",
    reset_conversation: "camera_uploading",
    ping: "camera_uploading",
    abort: "camera_uploading",
    wake_word: "camera_uploading",
  },
  // An abort while the user speaks has no reply to stop (xiaozhi sends it whenever its button is pressed).
  recording: {
    audio: "recording",
    stop_recording: "processing",
    reset: "idle",
    ping: "recording",
    abort: "recording",
    wake_word: "recording",
  },
  processing: { ping: "processing", ready_for_playback: "processing", abort: "idle", wake_word: "processing" },
  playing: {
    ready_for_playback: "playing",
    playback_complete: "playing",
    ping: "playing",
    abort: "idle",
    wake_word: "playing",
  },
  stalled: {
    start_recording: "recording",
    reset: "idle",
    reset_conversation: "stalled",
    ping: "stalled",
    client_on: "stalled",
    hello: "stalled",
    abort: "stalled",
    wake_word: "stalled",
  },
  shutdown: {},
};

/** What the server itself does to a turn: raised by the session only, never parsed from a device. */
export type InternalEvent =
  | "identified"
  | "recording_stalled"
  | "reply_started"
  | "reply_done"
  | "rerecord"
  | "intervention"
  | "image_received"
  /** The VAD's speech was too short to be a turn: the recording is dropped without a word to the device. */
  | "speech_discarded"
  /** The user spoke over the reply (barge-in) or the device aborted it. */
  | "interrupted"
  | "closed";

export type TurnEvent = InputType | InternalEvent;

/** Where the session's own events lead, from the states they can happen in. */
const ASKABLE = ["idle", "recording", "processing", "camera_uploading", "stalled"] as const;
const INTERNAL: Record<InternalEvent, Partial<Record<State, State>>> = {
  identified: { connected: "idle" },
  recording_stalled: { recording: "stalled" },
  // A reply, an apology or operator speech (`say`, from a state without an exchange).
  reply_started: {
    processing: "playing",
    playing: "playing",
    idle: "playing",
    camera_uploading: "playing",
    stalled: "playing",
  },
  reply_done: { playing: "idle", processing: "idle" },
  rerecord: Object.fromEntries(ASKABLE.map((s) => [s, "stalled"])),
  intervention: Object.fromEntries(ASKABLE.map((s) => [s, "idle"])),
  image_received: { camera_uploading: "idle" },
  speech_discarded: { recording: "idle" },
  interrupted: { processing: "idle", playing: "idle" },
  closed: Object.fromEntries(STATES.map((s) => [s, "shutdown"])),
};

/**
 * The turn-state reducer: the state a device input or an internal event leads to, or undefined
 * when it is illegal in `state`. Every move of a session goes through here.
 */
export function nextState(state: State, event: TurnEvent): State | undefined {
  return (TRANSITIONS[state] as Partial<Record<TurnEvent, State>>)[event] ?? INTERNAL[event as InternalEvent]?.[state];
}

/**
 * The user's side of the turn, apart from the agent's (`State`): on an always-listening device the
 * user may speak while the agent speaks, which one state cannot say.
 */
export type UserState = "absent" | "silent" | "speaking";
export type UserEvent = "identified" | "speech_started" | "speech_ended" | "closed";

const USER: Record<UserEvent, Partial<Record<UserState, UserState>>> = {
  identified: { absent: "silent" },
  speech_started: { silent: "speaking" },
  speech_ended: { speaking: "silent" },
  closed: { absent: "absent", silent: "absent", speaking: "absent" },
};

/** The user state an event leads to; an event that does not apply leaves it as it is. */
export function nextUserState(user: UserState, event: UserEvent): UserState {
  return USER[event][user] ?? user;
}

/**
 * What the user starting to speak means, given the agent's state: a new turn, an interruption
 * of the reply being prepared or spoken (only where barge-in is on), or nothing (a turn is under
 * way, or the device would be answering its own echo).
 */
export function onUserSpeech(agent: State, bargeIn: boolean): "start_turn" | "interrupt" | "ignore" {
  if (agent === "idle" || agent === "stalled" || agent === "camera_uploading") return "start_turn";
  if (agent === "processing" || agent === "playing") return bargeIn ? "interrupt" : "ignore";
  return "ignore";
}

/** The server's side of the turn. */
export function agentState(state: State): "idle" | "listening" | "thinking" | "speaking" {
  if (state === "recording") return "listening";
  if (state === "processing") return "thinking";
  return state === "playing" ? "speaking" : "idle";
}
