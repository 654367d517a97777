import type { MultivariantPlaylist } from '../hls/playlist-model.js';

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

/**
 * Drift of AVERAGE-BANDWIDTH (either way) or fall of BANDWIDTH tolerated before the multivariant
 * playlist is rewritten: 5 %, half the 10 % that Apple's HLS authoring rules and mediastreamvalidator
 * allow between declared and measured bitrates.
 */
export const BANDWIDTH_TOLERANCE = 0.05;

/**
 * Whether the multivariant playlist `written` must be replaced by `next`: when anything but the
 * bitrates changed (variants, codecs, sizes, audio), when a BANDWIDTH must rise (it is the peak
 * segment bitrate, an upper bound: §4.4.6.2), or when a bitrate moved by more than `tolerance`.
 * The average changes with every segment, so comparing the text rewrote the playlist ~2.5 times a
 * second for the default ladder for changes of a few bits per second that no player acts on.
 */
export function multivariantOutdated(
  written: MultivariantPlaylist | undefined,
  next: MultivariantPlaylist,
  tolerance: number = BANDWIDTH_TOLERANCE,
): boolean {
  if (written === undefined) return true;
  const withoutBitrates = (p: MultivariantPlaylist): string =>
    JSON.stringify({ ...p, variants: p.variants.map(({ bandwidth: _b, averageBandwidth: _a, ...rest }) => rest) });
  if (withoutBitrates(written) !== withoutBitrates(next)) return true;
  return next.variants.some((v, i) => {
    const w = written.variants[i]!;
    const drifted = (from: number, to: number): boolean => Math.abs(to - from) > tolerance * from;
    return Math.ceil(v.bandwidth) > Math.ceil(w.bandwidth) || drifted(w.bandwidth, v.bandwidth) || drifted(w.averageBandwidth, v.averageBandwidth);
  });
}
