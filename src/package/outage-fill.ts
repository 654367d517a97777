import { encodeMediaChunk, type ChunkSample } from '../mp4/fmp4-fragment-writer.js';
import type { FragmentSample, TrackInfo } from '../mp4/fmp4-reader.js';
import { AAC_FRAME_SAMPLES, silentAacLcFrame } from '../mp4/silent-aac.js';

/**
 * What one rendition plays while its encoder is down between two runs: the last keyframe held as a
 * still picture (video), digital silence (AAC-LC audio), continuing the decode times of the media
 * listed last. Pure: the rendition packager feeds it the fragments it lists and asks it for one
 * CMAF chunk per part of the outage.
 *
 * Why media and not EXT-X-GAP parts (issue 15): hls.js 1.7.4 skips GAP parts in low-latency mode
 * without tracking them, so its gap controller cannot walk from the end of its buffer to the next
 * run's media, and it stood still 10–40 s at about one encoder restart in seven. A held picture and
 * silence keep its buffer contiguous up to the next run's discontinuity, which it crosses as it
 * crosses any other. Shaka Player plays either.
 *
 * The held picture is the last sync sample's data with SEI NAL units removed (a caption or a
 * recovery point repeated every part would repeat captions), one sample per part — every fill part
 * is independent. That costs one keyframe per part: more bytes per second than the rendition's
 * bitrate on short parts (a 720p keyframe every 0.1 s), for the seconds an encoder restart takes.
 */
export class OutageFill {
  private readonly track: TrackInfo;
  /**
   * The last keyframe the encoder wrote, not yet made the held picture: a view into its fragment's
   * bytes, no copy. Keyframes come every GOP and an outage rarely, so the copy and the SEI strip
   * (`withoutSei`) wait for the first fill part after it. The view stays valid: a fragment's bytes
   * lie in the pipe read they came in, which Node allocates per read (it reuses one buffer only for
   * a socket given an `onread` buffer, which the encoder's pipes are not), or in a box the reader
   * assembled, and nothing writes to them once delivered (`Fmp4Reader.push`). It keeps that read
   * alive until the next keyframe: one per rendition.
   */
  private keyframe: { data: Uint8Array; compositionOffset: number } | undefined;
  /** The held picture (video) or silent frame (audio) each fill part repeats; undefined: none yet. */
  private sampleData: Uint8Array | undefined;
  private compositionOffset = 0;
  /** Decode time where the media listed so far ends (track timescale), once any is listed. */
  private end: number | undefined;
  private sequenceNumber = 0;
  /** The current outage: where its fill began and how many parts it has. */
  private outage: { start: number; parts: number } | undefined;

  constructor(track: TrackInfo) {
    this.track = track;
    if (track.handler === 'audio') {
      // Only AAC-LC has a silent frame this side of an encoder; a raw frame does not code its rate.
      this.sampleData = track.codecs === 'mp4a.40.2' ? silentAacLcFrame(track.channelCount ?? 2) : undefined;
    }
  }

  /**
   * A fragment the encoder wrote (`bytes` = moof + mdat, its first sample's data at `dataStart`). A
   * video fragment starting with a sync sample becomes the held picture.
   */
  observe(fragment: { bytes: Uint8Array; samples: readonly FragmentSample[]; dataStart: number; sequenceNumber: number }): void {
    this.sequenceNumber = fragment.sequenceNumber;
    if (this.track.handler !== 'video') return;
    const first = fragment.samples[0];
    if (first === undefined || !first.isSync) return;
    const data = fragment.bytes.subarray(fragment.dataStart, fragment.dataStart + first.size);
    this.keyframe = { data, compositionOffset: first.compositionOffset };
  }

  /** The media listed so far ends at `seconds` of stream time (a part's end): an outage fills on from there. */
  listedUntil(seconds: number): void {
    if (this.outage === undefined) this.end = Math.round(seconds * this.track.timescale);
  }

  /** Whether an outage can be filled now: a sample to repeat and a listed end to continue from. */
  get canFill(): boolean {
    return (this.keyframe !== undefined || this.sampleData !== undefined) && this.end !== undefined;
  }

  /**
   * The next part of the outage, `partTarget` seconds long: one moof + mdat, or undefined when the
   * track cannot be filled. Durations are taken from the outage's start, so k parts last k ×
   * partTarget in total whatever the rounding (audio: whole AAC frames, at most one frame ahead).
   */
  nextPart(partTarget: number): Uint8Array | undefined {
    if (this.keyframe !== undefined) {
      this.sampleData = withoutSei(this.keyframe.data, this.track.format);
      this.compositionOffset = this.keyframe.compositionOffset;
      this.keyframe = undefined;
    }
    const data = this.sampleData;
    if (data === undefined || this.end === undefined) return undefined;
    this.outage ??= { start: this.end, parts: 0 };
    this.outage.parts += 1;
    const until = this.outage.start + Math.round(this.outage.parts * partTarget * this.track.timescale);
    const samples: ChunkSample[] = [];
    if (this.track.handler === 'video') {
      samples.push({ duration: Math.max(1, until - this.end), data, sync: true, compositionOffset: this.compositionOffset });
    } else {
      const frame = Math.round((AAC_FRAME_SAMPLES * this.track.timescale) / (this.track.sampleRate ?? this.track.timescale));
      const count = Math.max(1, Math.ceil((until - this.end) / frame));
      for (let i = 0; i < count; i++) samples.push({ duration: frame, data, sync: true });
    }
    const bytes = encodeMediaChunk({ sequenceNumber: ++this.sequenceNumber, trackId: this.track.trackId, baseDecodeTime: this.end, samples });
    for (const s of samples) this.end += s.duration;
    return bytes;
  }

  /** The outage is over (the next run has media, or the stream ended). */
  endOutage(): void {
    this.outage = undefined;
  }
}

/** H.264 SEI (6); HEVC prefix and suffix SEI (39, 40). */
function isSei(nalHeader: number, format: string): boolean {
  if (format === 'avc1' || format === 'avc3') return (nalHeader & 0x1f) === 6;
  if (format === 'hvc1' || format === 'hev1') {
    const type = (nalHeader >> 1) & 0x3f;
    return type === 39 || type === 40;
  }
  return false;
}

/**
 * The sample without its SEI NAL units (4-byte length prefixes, as every ffmpeg H.264/HEVC MP4 output
 * has). A sample that does not parse as such is kept whole.
 */
export function withoutSei(sample: Uint8Array, format: string): Uint8Array {
  const kept: Uint8Array[] = [];
  let at = 0;
  let dropped = false;
  while (at < sample.byteLength) {
    if (at + 4 > sample.byteLength) return sample.slice();
    const size = ((sample[at]! << 24) | (sample[at + 1]! << 16) | (sample[at + 2]! << 8) | sample[at + 3]!) >>> 0;
    if (size === 0 || at + 4 + size > sample.byteLength) return sample.slice();
    const nal = sample.subarray(at, at + 4 + size);
    if (isSei(sample[at + 4]!, format)) dropped = true;
    else kept.push(nal);
    at += 4 + size;
  }
  if (!dropped || kept.length === 0) return sample.slice();
  const out = new Uint8Array(kept.reduce((n, k) => n + k.byteLength, 0));
  let o = 0;
  for (const k of kept) {
    out.set(k, o);
    o += k.byteLength;
  }
  return out;
}
