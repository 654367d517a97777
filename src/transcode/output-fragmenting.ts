import { wholeFramesPerPart } from '../ladder/part-target.js';

/**
 * How ffmpeg fragments a run's video outputs: one moof+mdat per part (of the run's PART-TARGET,
 * `runPartTarget`), or per frame when a part holds one frame or the rate is unknown.
 *
 * Every fragment costs the packager a pipe read, a moof parse and a cutter step, so per-frame
 * fragments of a 30 fps, four-rendition ladder are 120 of each a second; per-part fragments of
 * 0.5 s parts are 8. It no longer costs viewers bytes: the packager writes each part as one CMAF
 * chunk (one moof, one mdat) however many fragments it came in (src/mp4/fmp4-coalescer.ts), where
 * ~100 bytes of moof+mdat headers per fragment used to reach every viewer (bench/results/part-chunks.md). Latency is the same either way: ffmpeg's mp4 muxer writes a fragment when the
 * packet after it arrives (it needs that packet's timestamp for the last sample's duration), so a
 * part-sized fragment leaves ffmpeg at the same moment as the last frame of that part did.
 *
 * Per-part fragments need the muxer to cut exactly where the packager would: `frag_duration` closes
 * a fragment at the first packet at least that far from the fragment's start, and `frag_keyframe`
 * at every keyframe (segment boundaries). A threshold of (frames − ½) frame durations cuts after
 * exactly `frames` frames, the whole frames the packager would pack into a part, as long as every
 * frame lasts one frame duration. Video outputs are constant-frame-rate (`-fps_mode cfr`, see the
 * compiler): ffmpeg repeats a frame where the source dropped one and snaps millisecond FLV
 * timestamps to the output rate, without holding any frame back. A fragment therefore never
 * outgrows PART-TARGET, which no part may ("The duration of a Partial Segment MUST be less than or
 * equal to the Part Target Duration", RFC 8216bis §4.4.4.9).
 */
/** One fragment per frame, or per group of `frames` frames cut by ffmpeg's `-frag_duration`. */
export type Fragmenting =
  | { kind: 'frame' }
  | {
      kind: 'grouped';
      /** Frames per fragment (video: the whole frames of a part; audio: a few AAC frames). */
      frames: number;
      /** ffmpeg `-frag_duration`, microseconds: (frames − ½) frame durations. */
      fragDurationUs: number;
    };

export function videoFragmentingOf(partTarget: number, frameRate: number): Fragmenting {
  if (!(frameRate > 0) || !Number.isFinite(frameRate) || !(partTarget > 0)) return { kind: 'frame' };
  const frames = wholeFramesPerPart(partTarget, frameRate);
  if (frames < 2) return { kind: 'frame' };
  return { kind: 'grouped', frames, fragDurationUs: Math.round(((frames - 0.5) / frameRate) * 1e6) };
}

/** AAC-LC frame length, samples. */
const AAC_FRAME_SAMPLES = 1024;
/** Largest fragment, as a share of PART-TARGET (see `audioFragmentingOf`). */
const MAX_FRAGMENT_SHARE_OF_PART = 0.15;

/**
 * How ffmpeg fragments an audio output: one AAC frame per fragment, or a few.
 *
 * AAC frames are short (1024 samples: 21.3 ms at 48 kHz), 47 fragments a second — more than all
 * video renditions together once those are part-sized. Audio timestamps are exact sample counts, so
 * `-frag_duration` cuts fragments of exactly `frames` AAC frames without any filter. The packager
 * cuts audio parts and segments on fragment boundaries, so a fragment must stay small against a
 * part: packing whole fragments greedily fills a part to more than PART-TARGET minus one fragment,
 * and a fragment of at most 15 % of PART-TARGET keeps every part ≥ 85 % of it (LLHLS.md). Segment
 * boundaries move by less than one fragment (≤ 64 ms at 0.5 s parts), which players do not notice:
 * audio and video playlists are aligned by time, not by segment edges. Short parts (0.1–0.2 s) leave
 * room for no more than one frame, and keep per-frame fragments.
 */
export function audioFragmentingOf(partTarget: number, sampleRate: number): Fragmenting {
  if (!(partTarget > 0) || !(sampleRate > 0)) return { kind: 'frame' };
  const frameSeconds = AAC_FRAME_SAMPLES / sampleRate;
  const frames = Math.floor((MAX_FRAGMENT_SHARE_OF_PART * partTarget) / frameSeconds + 1e-9);
  if (frames < 2) return { kind: 'frame' };
  return { kind: 'grouped', frames, fragDurationUs: Math.round((frames - 0.5) * frameSeconds * 1e6) };
}
