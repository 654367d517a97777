import { setFragmentTrackId } from '../mp4/mp4-mux.js';
import type { CutterFrame } from './segment-cutter.js';

/**
 * Puts a run's audio fragments into one video rendition's fragments, for a variant that carries its
 * audio in the video's fMP4 (the ladder's `muxAudio`). Pure: the caller pushes both streams' fragments
 * as they arrive and gets back muxed frames for the video's segment cutter.
 *
 * Each video fragment (one frame, or one part of frames) takes every audio fragment that starts
 * within its time window [start, end), in order: the muxed frame is the video moof+mdat followed by
 * those audio moof+mdats, renumbered to the merged init's audio track. The cutter then cuts on the
 * video's frames and keyframes exactly as for a video-only rendition, so a part's audio covers the
 * part's own window (give or take one AAC frame, 21 ms at 48 kHz, at each end) and a segment's audio
 * starts where the segment does: part k of the variant is playable on its own, and the parts and
 * segments of muxed variants fall on the same boundaries as those of the others.
 *
 * A video fragment is released once the audio stream has reached its end (the last audio fragment
 * ends at or after it: no later audio fragment can start inside the window), or once audio ended.
 * ffmpeg writes audio ahead of video (≈ 0.2 s, issue 15), so that costs nothing in the usual case;
 * when audio lags, the video waits for it. Both streams' timestamps share the run's timeline
 * (the run contract) in their own timescales; times are compared as exact integer cross-products.
 *
 * Bounds: video held for audio more than `maxWaitSeconds` is released without it (the audio of its
 * window, if it ever comes, goes with a later frame: MSE places samples by their own timestamps);
 * audio queued with no video to take it (video stalled) keeps only the last `maxWaitSeconds`.
 */

export interface TimedFragment {
  /** Decode time, in its track's timescale (tfdt). */
  decodeTime: number;
  /** Duration, same units. */
  duration: number;
  independent: boolean;
  /** moof + mdat. */
  bytes: Uint8Array;
}

export interface AudioInterleaverOptions {
  videoTimescale: number;
  audioTimescale: number;
  /** track_ID of the audio track in the merged init (`mergeInitSegments`). */
  audioTrackId: number;
  /** See the module comment; default 10 s. */
  maxWaitSeconds?: number;
}

const DEFAULT_MAX_WAIT_SECONDS = 10;

export class AudioInterleaver {
  /** Video fragments released before audio reached their end (audio lagged past `maxWaitSeconds`). */
  releasedWithoutAudio = 0;
  /** Audio fragments dropped: before the first video frame, or queued too long with no video. */
  droppedAudio = 0;

  private readonly video: TimedFragment[] = [];
  private readonly audio: TimedFragment[] = [];
  private audioEnded = false;
  /** End of the last audio fragment pushed, audio timescale; −∞ before the first. */
  private audioReach = Number.NEGATIVE_INFINITY;
  private started = false;
  private readonly vts: number;
  private readonly ats: number;

  constructor(private readonly options: AudioInterleaverOptions) {
    this.vts = options.videoTimescale;
    this.ats = options.audioTimescale;
  }

  pushVideo(fragment: TimedFragment): CutterFrame[] {
    this.video.push(fragment);
    return this.release();
  }

  pushAudio(fragment: TimedFragment): CutterFrame[] {
    this.audio.push(fragment);
    this.audioReach = fragment.decodeTime + fragment.duration;
    const limit = this.maxWait * this.ats;
    while (this.video.length === 0 && this.audio.length > 1 && this.audioReach - this.audio[0]!.decodeTime > limit) {
      this.audio.shift();
      this.droppedAudio++;
    }
    return this.release();
  }

  /** The audio stream ended: every video fragment from now on is released at once, with what audio is left. */
  endAudio(): CutterFrame[] {
    this.audioEnded = true;
    return this.release();
  }

  private get maxWait(): number {
    return this.options.maxWaitSeconds ?? DEFAULT_MAX_WAIT_SECONDS;
  }

  /** Audio time `a` (audio units) is before video time `v` (video units). */
  private audioBefore(a: number, v: number): boolean {
    return a * this.vts < v * this.ats;
  }

  private release(): CutterFrame[] {
    const out: CutterFrame[] = [];
    while (this.video.length > 0) {
      const v = this.video[0]!;
      const end = v.decodeTime + v.duration;
      const covered = this.audioEnded || !this.audioBefore(this.audioReach, end);
      const newest = this.video[this.video.length - 1]!;
      const overdue = newest.decodeTime + newest.duration - v.decodeTime > this.maxWait * this.vts;
      if (!covered && !overdue) break;
      if (!covered) this.releasedWithoutAudio++;
      this.video.shift();
      out.push(this.mux(v, end));
    }
    return out;
  }

  private mux(v: TimedFragment, end: number): CutterFrame {
    if (!this.started) {
      this.started = true;
      // Audio wholly before the first video frame has no picture to go with: dropped.
      while (this.audio.length > 0 && this.audioEndsBy(this.audio[0]!, v.decodeTime)) {
        this.audio.shift();
        this.droppedAudio++;
      }
    }
    let count = 0;
    let size = v.bytes.byteLength;
    while (count < this.audio.length && this.audioBefore(this.audio[count]!.decodeTime, end)) {
      size += this.audio[count]!.bytes.byteLength;
      count++;
    }
    const taken = this.audio.splice(0, count);
    const bytes = new Uint8Array(size);
    bytes.set(v.bytes, 0);
    let at = v.bytes.byteLength;
    for (const a of taken) {
      bytes.set(a.bytes, at);
      setFragmentTrackId(bytes.subarray(at, at + a.bytes.byteLength), this.options.audioTrackId);
      at += a.bytes.byteLength;
    }
    return { decodeTime: v.decodeTime, duration: v.duration, independent: v.independent, bytes };
  }

  /** Audio fragment `a` ends at or before video time `v`. */
  private audioEndsBy(a: TimedFragment, v: number): boolean {
    return (a.decodeTime + a.duration) * this.vts <= v * this.ats;
  }
}
