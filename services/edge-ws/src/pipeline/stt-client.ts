import { type ChannelCredentials, type ClientOptions, makeGenericClientConstructor } from "@grpc/grpc-js";
import { stt } from "@hotpin/contracts";

/** `bytes audio = 2` of RecognizeRequest and SpotRequest: field 2, length-delimited. */
const AUDIO_TAG = (2 << 3) | 2;

type AudioRequest = { request?: { $case: "audio"; value: Buffer } | { $case: string } };

/**
 * The generated serializer copies each chunk three times (the protobuf writer's chunks, its
 * concatenation, Buffer.from); every device streams several chunks a second, so an audio
 * request is written here into one buffer sized for it, the same bytes the generated encoder
 * writes. Anything else (the config) goes through the generated one.
 */
export function audioFirst<T extends AudioRequest>(generated: (value: T) => Buffer): (value: T) => Buffer {
  return (value) => {
    const r = value.request;
    if (r?.$case !== "audio" || !("value" in r)) return generated(value);
    const pcm = r.value;
    const out = Buffer.allocUnsafe(1 + varintBytes(pcm.length) + pcm.length);
    out[0] = AUDIO_TAG;
    let at = 1;
    let n = pcm.length;
    while (n > 0x7f) {
      out[at++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    out[at++] = n;
    out.set(pcm, at);
    return out;
  };
}

function varintBytes(n: number): number {
  let bytes = 1;
  while (n > 0x7f) {
    n >>>= 7;
    bytes++;
  }
  return bytes;
}

const generated = stt.SpeechToTextService;

/** stt.SpeechToTextService with the audio of Recognize and Spot streams encoded by audioFirst. */
export const sttService = {
  ...generated,
  recognize: { ...generated.recognize, requestSerialize: audioFirst(generated.recognize.requestSerialize) },
  spot: { ...generated.spot, requestSerialize: audioFirst(generated.spot.requestSerialize) },
};

export const SpeechToTextClient = makeGenericClientConstructor(
  sttService,
  "hotpin.stt.v1.SpeechToText",
) as unknown as new (
  address: string,
  credentials: ChannelCredentials,
  options?: Partial<ClientOptions>,
) => stt.SpeechToTextClient;
