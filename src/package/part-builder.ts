/**
 * The part being filled by the segment cutter: whole frames (each a moof+mdat CMAF chunk) in decode
 * order. Its bytes, once closed, are the concatenation of those chunks — itself a valid CMAF chunk
 * sequence that players append as is.
 */
export class PartBuilder {
  private chunks: Uint8Array[] = [];
  private byteLength = 0;
  /** Decode time of the first frame, timescale units. */
  start = 0;
  /** Decode time just after the last frame (its decode time + duration), timescale units. */
  end = 0;
  /** The first frame is a sync sample. */
  independent = false;

  get empty(): boolean {
    return this.chunks.length === 0;
  }

  get frameCount(): number {
    return this.chunks.length;
  }

  /** Duration in timescale units, gaps between frames included. */
  get duration(): number {
    return this.end - this.start;
  }

  add(decodeTime: number, duration: number, independent: boolean, bytes: Uint8Array): void {
    if (this.chunks.length === 0) {
      this.start = decodeTime;
      this.independent = independent;
    }
    this.chunks.push(bytes);
    this.byteLength += bytes.byteLength;
    this.end = decodeTime + duration;
  }

  /** Concatenates the frames and resets the builder for the next part. */
  take(): { start: number; end: number; independent: boolean; bytes: Uint8Array } {
    const bytes = concatBytes(this.chunks, this.byteLength);
    const out = { start: this.start, end: this.end, independent: this.independent, bytes };
    this.chunks = [];
    this.byteLength = 0;
    return out;
  }
}

export function concatBytes(chunks: readonly Uint8Array[], totalLength?: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(totalLength ?? chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}
