/**
 * The part being filled by the segment cutter: whole frames (each one or more moof+mdat fragments) in
 * decode order, held as the caller's byte views until the part closes. The cutter then writes the
 * part's bytes once into the segment's `MediaBuffer`: one CMAF chunk coalescing the frames
 * (`planCoalescedChunks`), or the frames as they came.
 */
export class PartBuilder {
  private held: Uint8Array[] = [];
  /** Decode time of the first frame, timescale units. */
  start = 0;
  /** Decode time just after the last frame (its decode time + duration), timescale units. */
  end = 0;
  /** The first frame is a sync sample. */
  independent = false;

  get empty(): boolean {
    return this.held.length === 0;
  }

  get frameCount(): number {
    return this.held.length;
  }

  /** Duration in timescale units, gaps between frames included. */
  get duration(): number {
    return this.end - this.start;
  }

  /** Adds a frame; `bytes` must stay unchanged until the part is taken (a view, not copied). */
  add(decodeTime: number, duration: number, independent: boolean, bytes: Uint8Array): void {
    if (this.held.length === 0) {
      this.start = decodeTime;
      this.independent = independent;
    }
    this.held.push(bytes);
    this.end = decodeTime + duration;
  }

  /** The part's timing and its frames' bytes; resets the builder for the next part. */
  take(): { start: number; end: number; independent: boolean; frames: Uint8Array[] } {
    const out = { start: this.start, end: this.end, independent: this.independent, frames: this.held };
    this.held = [];
    return out;
  }
}
