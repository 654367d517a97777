/**
 * When did a frame reach livepipe, for feeds that do not hand frames over as they arrive?
 *
 * The SRT listener (an ffmpeg process) probes its caller's stream for up to a second before it
 * writes anything, then flushes what it buffered in one burst. Stamping "now" on the first keyframe
 * of that burst would date it up to a second late, and EXT-X-PROGRAM-DATE-TIME with it: players
 * would report a latency lower than the real one.
 *
 * The clock pairs each video decode timestamp with the wall-clock time it was seen. A live feed
 * flows at the media rate, so `seenAt − (dts − firstDts)` estimates the moment the first frame
 * arrived; frames held back by the probe give later estimates, frames that flowed live give the
 * true one, so the earliest estimate wins. Arrival of any frame is then that origin plus its media
 * offset, never later than the moment it was actually seen.
 *
 * A publisher that sends faster than real time (a file pushed without `-re`) pulls the origin
 * earlier and earlier: its frames get dated early, and latency reads high rather than low.
 */

/** MPEG-TS timestamps: 33 bits of a 90 kHz clock. */
export const TS_CLOCK_HZ = 90_000;
export const TS_WRAP = 2 ** 33;

/** `b − a` in 90 kHz ticks across the 33-bit wrap, in −2^32…2^32. */
export function tsDelta(a: number, b: number): number {
  let d = (b - a) % TS_WRAP;
  if (d >= TS_WRAP / 2) d -= TS_WRAP;
  if (d < -TS_WRAP / 2) d += TS_WRAP;
  return d;
}

export class ArrivalClock {
  private firstDts: number | undefined;
  /** Epoch ms at which `firstDts` arrived (earliest estimate so far). */
  private origin = Infinity;
  /** Media offset (ms from `firstDts`) of the latest frame seen, to bound estimates. */
  private latestOffsetMs = -Infinity;
  private latestSeenAt = -Infinity;

  /** A frame with decode timestamp `dts` (90 kHz) was seen at `seenAtMs`. */
  observe(dts: number, seenAtMs: number): void {
    this.firstDts ??= dts;
    const offsetMs = (tsDelta(this.firstDts, dts) * 1000) / TS_CLOCK_HZ;
    this.origin = Math.min(this.origin, seenAtMs - offsetMs);
    this.latestOffsetMs = offsetMs;
    this.latestSeenAt = seenAtMs;
  }

  /**
   * Estimated arrival (epoch ms) of the frame with decode timestamp `dts`, or undefined before any
   * frame was observed. Never later than when the clock last saw a frame at or after `dts`.
   */
  arrivalOf(dts: number): number | undefined {
    if (this.firstDts === undefined) return undefined;
    const offsetMs = (tsDelta(this.firstDts, dts) * 1000) / TS_CLOCK_HZ;
    const estimate = this.origin + offsetMs;
    return offsetMs <= this.latestOffsetMs ? Math.min(estimate, this.latestSeenAt) : estimate;
  }
}
