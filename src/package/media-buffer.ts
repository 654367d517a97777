/**
 * The bytes of the segment being cut, in one growing buffer: every part is written in once, and the
 * segment's parts and the segment itself are views on it — no concatenation per part, none per
 * segment (each used to copy every byte again, at ~2.5 MB/s for the default ladder).
 *
 * A view handed out never changes: bytes are only ever appended after it, growing moves the data to
 * a new buffer while the old one lives on for the views into it, and `reset()` starts the next
 * segment in a new buffer. Memory is not zero-filled (`allocUnsafeSlow`): only written bytes are
 * ever exposed.
 */
export class MediaBuffer {
  private buffer: Uint8Array;
  private used = 0;

  constructor(
    /** Smallest buffer allocated, bytes. Default 64 KiB. */
    private readonly minCapacity = 64 * 1024,
  ) {
    this.buffer = Buffer.allocUnsafeSlow(minCapacity);
  }

  /** Bytes appended since the last reset. */
  get length(): number {
    return this.used;
  }

  append(bytes: Uint8Array): void {
    this.reserve(bytes.byteLength).set(bytes);
  }

  /**
   * The next `length` bytes, appended, for the caller to write at once (a part coalesced in place,
   * with no intermediate copy): they are exposed by `view` only after that, so write every byte.
   */
  reserve(length: number): Uint8Array {
    const needed = this.used + length;
    if (needed > this.buffer.byteLength) {
      const next = Buffer.allocUnsafeSlow(Math.max(needed, 2 * this.buffer.byteLength));
      next.set(this.buffer.subarray(0, this.used), 0);
      this.buffer = next;
    }
    const at = this.used;
    this.used = needed;
    return this.buffer.subarray(at, needed);
  }

  /** Bytes [from, to) appended since the last reset: a view, not a copy. */
  view(from: number, to: number = this.used): Uint8Array {
    if (!(from >= 0 && from <= to && to <= this.used)) throw new RangeError(`view [${from}, ${to}) outside the ${this.used} bytes held`);
    return this.buffer.subarray(from, to);
  }

  /** Starts over in a new buffer of at least `expected` bytes; views handed out keep the old one. */
  reset(expected: number): void {
    this.buffer = Buffer.allocUnsafeSlow(Math.max(this.minCapacity, Math.ceil(expected)));
    this.used = 0;
  }
}
