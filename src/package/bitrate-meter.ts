/**
 * Measures a rendition's segment bitrates for the multivariant playlist (§4.4.6.2): BANDWIDTH is the
 * peak segment bitrate, AVERAGE-BANDWIDTH the average over the stream. Segments shorter than half the
 * nominal duration (forced cuts, the end of a run) would inflate the peak with their keyframe-heavy
 * bytes, so they count towards the average only.
 */
export class SegmentBitrateMeter {
  private peak = 0;
  private bits = 0;
  private seconds = 0;

  constructor(
    /** Nominal segment duration, seconds. */
    private readonly segmentDuration: number,
  ) {}

  add(byteLength: number, durationSeconds: number): void {
    if (!(durationSeconds > 0)) return;
    const bits = byteLength * 8;
    this.bits += bits;
    this.seconds += durationSeconds;
    if (durationSeconds >= this.segmentDuration / 2) this.peak = Math.max(this.peak, bits / durationSeconds);
  }

  /** Bits per second, or undefined before the first segment; peak falls back to the average. */
  get measured(): { peak: number; average: number } | undefined {
    if (this.seconds === 0) return undefined;
    const average = this.bits / this.seconds;
    return { peak: Math.max(this.peak, average), average };
  }
}

/**
 * A video variant's BANDWIDTH / AVERAGE-BANDWIDTH include the audio it plays with: peaks add up (an upper
 * bound, as the spec asks), averages add up exactly.
 */
export function variantBandwidth(
  video: { peak: number; average: number },
  audio?: { peak: number; average: number },
): { bandwidth: number; averageBandwidth: number } {
  return {
    bandwidth: Math.ceil(video.peak + (audio?.peak ?? 0)),
    averageBandwidth: Math.ceil(video.average + (audio?.average ?? 0)),
  };
}

/** CODECS of a variant: its video codec and, when the variant plays with audio, the audio codec. */
export function variantCodecs(videoCodecs: string, audioCodecs?: string): string {
  return audioCodecs ? `${videoCodecs},${audioCodecs}` : videoCodecs;
}
