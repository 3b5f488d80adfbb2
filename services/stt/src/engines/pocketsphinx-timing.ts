/**
 * Stream-relative frames for the words of one decoder utterance ("piece").
 *
 * ps_seg_frames reports a word's frame within the piece plus the library's stream offset
 * (acmod's utt_start_frame: where the voice-activity detector last entered speech, minus the
 * pre-speech frames it keeps). Frames the VAD judges silence are never decoded, so a piece holds
 * only voiced runs, and the offset is that of the last run. When the VAD leaves and re-enters
 * speech between two segmentation checks (a pause just over -vad_postspeech), the piece holds two
 * runs, the second's offset lands on the first's words, and the second's words are counted from
 * the piece's start: all seconds late, past the audio's end. Recording each run's offset and first
 * frame when the VAD leaves speech puts every word back where it was heard.
 */
export class PieceTiming {
  /** Runs before the current one: the piece frame where each starts, and its stream offset. */
  private readonly runs: { from: number; offset: number }[] = [];
  private nextFrom = 0;

  /**
   * The VAD left speech inside the piece: the run so far started at stream frame `offset`
   * (the library's, read before a new run replaces it) and the piece has `frames` frames so far.
   */
  runEnded(offset: number, frames: number): void {
    this.runs.push({ from: this.nextFrom, offset });
    this.nextFrom = frames;
  }

  /**
   * The stream frame of a frame ps_seg_frames reported at the piece's end, when `finalOffset`
   * (the last run's) was the offset it added.
   */
  streamFrame(reported: number, finalOffset: number): number {
    const local = reported - finalOffset;
    // The library counts every run from the piece's first frame; each run starts at its own.
    let run = { from: this.nextFrom, offset: finalOffset };
    for (let i = this.runs.length - 1; i >= 0 && local < run.from; i--) run = this.runs[i] as typeof run;
    return run.offset + (local - run.from);
  }
}
