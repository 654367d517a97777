import { pipeline, Transform, type Readable } from 'node:stream';
import { firstFrameArrivedAt, stampFirstFrameArrival } from '../core/media-clock.js';
import { KeyframeMarker, type ScheduledMarkResult } from './keyframe-marks.js';

/** What a channel asks of a run input's keyframe marking (`FlvKeyframeMarking`, `TsKeyframeMarking`). */
export interface RunKeyframeMarking {
  /** The next video frame becomes a keyframe of the encoder's output. */
  markNext(): void;
  /** The frame at wall-clock instant `at` is keyed when it passes; `done` gets its run media time (ms). */
  markAtWall(at: number, done: (result: ScheduledMarkResult & { mediaMs: number }) => void): void;
}

/**
 * The part the FLV and MPEG-TS markings of one transcoder run's input share: a `KeyframeMarker` on
 * the ladder's GOP (and frame-rate cap, for a splice mark's output slot: `outputFrameMs`), and the
 * wall clock → timestamp mapping of `markAtWall`. Each format says where its grid starts (`origin`:
 * where ffmpeg counts the run's time from, the smallest first timestamp of its streams) and feeds
 * the marker its frames.
 */
export abstract class RunKeyframeMarkingTransform extends Transform implements RunKeyframeMarking {
  protected readonly marker: KeyframeMarker;

  /** `intervalMs`: the ladder's GOP; `frameRateCap`: its `frameRate: { cap }`, if any. */
  constructor(intervalMs: number, frameRateCap?: number) {
    super();
    this.marker = new KeyframeMarker(intervalMs);
    if (frameRateCap !== undefined && frameRateCap > 0) this.marker.outputFrameMs = 1000 / frameRateCap;
  }

  /** The grid's origin on this format's timeline (ms); undefined before the first frame. */
  protected abstract origin(): number | undefined;

  markNext(): void {
    this.marker.markNext();
  }

  /**
   * The first video frame at or after wall-clock instant `at` (epoch ms; one already past: the next
   * frame) becomes a keyframe of the encoder's output, when it passes. `done` gets its time in the
   * run's media timeline (ms from the grid's origin) and whether it was keyed.
   *
   * Wall clock ↔ timestamps as the packager dates the run: its PROGRAM-DATE-TIME anchor is this
   * stream's first-frame arrival stamp (`withRunKeyframeMarking` copies the feed's), standing for
   * media time 0, and a live feed's timestamps advance with the clock. So instant `at` is timestamp
   * `origin + (at − stamp)`, and a segment starting at the marked frame is dated at or after `at`.
   */
  markAtWall(at: number, done: (result: ScheduledMarkResult & { mediaMs: number }) => void): void {
    const stamp = firstFrameArrivedAt(this);
    const origin = this.origin();
    const pts = stamp === undefined || origin === undefined ? Number.NEGATIVE_INFINITY : origin + (at - stamp);
    this.marker.markAt(pts, (result) => done({ ...result, mediaMs: result.pts - (this.origin() ?? result.pts) }));
  }
}

/**
 * `source` (a run's input) through `marking`; destroying either end destroys both, and the marking
 * carries the source's first-frame arrival stamp (the packager's PROGRAM-DATE-TIME anchor).
 */
export function withRunKeyframeMarking<T extends RunKeyframeMarkingTransform>(source: Readable, marking: T): T {
  pipeline(source, marking, () => {});
  stampFirstFrameArrival(marking, () => firstFrameArrivedAt(source) ?? Date.now());
  return marking;
}
