// Hands the microphone's samples (at the audio context's rate) to the page, which resamples them
// to 16 kHz PCM16 for the edge. Audio worklets run on the audio thread; this one only copies.
class CaptureProcessor extends AudioWorkletProcessor {
  process(inputs) {
    const channel = inputs[0]?.[0];
    if (channel && channel.length > 0) this.port.postMessage(channel.slice(0));
    return true;
  }
}
registerProcessor("hotpin-capture", CaptureProcessor);
