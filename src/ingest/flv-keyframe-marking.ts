import type { Readable, TransformCallback } from 'node:stream';
import { FlvTagReader } from './flv-tag-reader.js';
import { classifyFlvTag, flvFileHeader, muxFlvTag, videoCompositionTime, FlvTagType, type FlvTag } from './flv-tags.js';
import { isAvcVideoBody } from './keyframe-marks.js';
import { RunKeyframeMarkingTransform, withRunKeyframeMarking } from './run-keyframe-marking.js';

/**
 * One transcoder run's FLV input with keyframe marks (`keyframe-marks.ts`), for a channel without an
 * `inputs:` block whose ladder says `keyframes: marked`: the first frame at or after each GOP grid
 * point of the run is marked, so that the encoder (`-force_key_frames source`) keys there and the
 * packager's segment boundaries find their keyframes, whatever GOP the publisher sends. The grid
 * starts where ffmpeg counts the run's time from: the smallest first timestamp of its streams (the
 * first video frame's presentation time, the first audio frame's). `markNext()` keys the next frame;
 * `markAtWall()` keys the frame at a wall-clock instant (an ad splice). Channels with inputs get the
 * same marks from the input selector.
 */
export class FlvKeyframeMarking extends RunKeyframeMarkingTransform {
  private readonly reader = new FlvTagReader();
  /** The output's FLV header was written (with the source's audio/video flags, once the reader has them). */
  private headerWritten = false;
  private firstVideoPts: number | undefined;
  private firstAudioTs: number | undefined;

  protected origin(): number | undefined {
    if (this.firstVideoPts === undefined) return this.firstAudioTs;
    return this.firstAudioTs === undefined ? this.firstVideoPts : Math.min(this.firstVideoPts, this.firstAudioTs);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    let tags: FlvTag[];
    try {
      tags = this.reader.push(chunk);
    } catch (err) {
      return callback(err as Error);
    }
    const flags = this.reader.typeFlags;
    if (!this.headerWritten && flags !== undefined) {
      this.headerWritten = true;
      this.push(flvFileHeader((flags & 0x04) !== 0, (flags & 0x01) !== 0));
    }
    for (const tag of tags) this.push(muxFlvTag(this.mark(tag)));
    callback();
  }

  private mark(tag: FlvTag): FlvTag {
    const kind = classifyFlvTag(tag.type, tag.body);
    if (kind === 'video-sequence-header') this.marker.onSequenceHeader(tag.body);
    if (kind === 'audio-frame') this.firstAudioTs ??= tag.timestamp;
    if (kind !== 'video-keyframe' && kind !== 'video-frame') return tag;
    const pts = tag.timestamp + videoCompositionTime(tag.body);
    this.firstVideoPts ??= pts;
    // A source keyframe is one of the encoder's output on H.264 only (`isAvcVideoBody`).
    const keyframe = kind === 'video-keyframe' && isAvcVideoBody(tag.body);
    // The tag timestamp is the DTS: with B-frames, tags come in decode order (`KeyframeMarker`).
    return tag.type === FlvTagType.Video ? { ...tag, body: this.marker.onFrame(tag.body, pts, keyframe, this.origin(), tag.timestamp) } : tag;
  }
}

/**
 * `source` (a run's FLV input) through a `FlvKeyframeMarking`; destroying either end destroys both,
 * and the result carries the source's first-frame arrival stamp (the packager's PROGRAM-DATE-TIME anchor).
 */
export function withKeyframeMarks(source: Readable, intervalMs: number, frameRateCap?: number): FlvKeyframeMarking {
  return withRunKeyframeMarking(source, new FlvKeyframeMarking(intervalMs, frameRateCap));
}
