/**
 * The part being filled by the segment cutter: whole frames (each a moof+mdat CMAF chunk) in decode
 * order. Its bytes are the range of the segment's `MediaBuffer` from `from` to the end — the
 * concatenation of those chunks, itself a valid CMAF chunk sequence that players append as is.
 */
export class PartBuilder {
  private frames = 0;
  /** Offset of the first frame's bytes in the segment's MediaBuffer. */
  from = 0;
  /** Decode time of the first frame, timescale units. */
  start = 0;
  /** Decode time just after the last frame (its decode time + duration), timescale units. */
  end = 0;
  /** The first frame is a sync sample. */
  independent = false;

  get empty(): boolean {
    return this.frames === 0;
  }

  get frameCount(): number {
    return this.frames;
  }

  /** Duration in timescale units, gaps between frames included. */
  get duration(): number {
    return this.end - this.start;
  }

  /** Adds a frame whose bytes were appended to the segment's buffer at `offset`. */
  add(decodeTime: number, duration: number, independent: boolean, offset: number): void {
    if (this.frames === 0) {
      this.start = decodeTime;
      this.independent = independent;
      this.from = offset;
    }
    this.frames += 1;
    this.end = decodeTime + duration;
  }

  /** The part's timing and where its bytes start; resets the builder for the next part. */
  take(): { start: number; end: number; independent: boolean; from: number } {
    const out = { start: this.start, end: this.end, independent: this.independent, from: this.from };
    this.frames = 0;
    return out;
  }
}
