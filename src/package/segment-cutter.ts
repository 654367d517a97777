import { ErrorCode, LivepipeError } from '../core/errors.js';
import { planCoalescedChunks, type TrackDefaults } from '../mp4/fmp4-coalescer.js';
import { malformed } from '../mp4/mp4-boxes.js';
import { MediaBuffer } from './media-buffer.js';
import { PartBuilder } from './part-builder.js';

/**
 * Cuts one rendition's frames into LL-HLS parts and segments. A pure state machine: `push(frame)`
 * returns what that frame completed; `flush()` closes what is open at the end of a run.
 *
 * Rules (LLHLS.md, §4.4.4.9 of draft-pantos-hls-rfc8216bis):
 * - Parts are cut on frame boundaries in decode order and never exceed PART-TARGET. A part closes as
 *   soon as one more frame of the last frame's duration would overflow it — at once, not when the next
 *   frame arrives — or when a segment boundary arrives. Greedy packing keeps every non-final part
 *   above PART-TARGET minus one frame duration: ≥ 85 % whenever PART-TARGET ≥ 6.7 frame durations
 *   (0.25 s at 30 fps, 0.5 s at 15 fps).
 * - Segment boundary instants are the multiples of `segmentDuration` on the stream timeline
 *   (decode time / timescale, seconds). Video cuts at the first keyframe at or after the next instant;
 *   every video rendition of one ffmpeg run shares that timeline and its keyframes, so all cut at the
 *   same instants. Audio has no keyframes and cuts at the first frame at or after each instant, which
 *   is the same place as video whenever the ladder's GOP divides the segment duration (as livepipe's
 *   ladders do); audio needs no message from the video cutters, and can close a segment the moment
 *   its last frame arrives.
 * - TARGETDURATION is fixed at construction: `ceil(segmentDuration)` unless configured larger. The
 *   bound on a segment is the spec's (§4.4.3.1): "The EXTINF duration of each Media Segment in a
 *   Playlist file, when rounded to the nearest integer, MUST be less than or equal to the Target
 *   Duration" — so segments stay under TARGETDURATION + 0.5 s. That slack is needed: audio frames
 *   (1024/48000 s) do not divide a 2 s segment, so audio segments are 2 s ± one frame, and a larger
 *   TARGETDURATION would raise HOLD-BACK (3 × TD) and latency for nothing. When a keyframe is late (a
 *   GOP longer than the segment duration), the segment is force-closed as soon as one more frame would
 *   pass that bound, and the next one starts on a non-keyframe: its first part is INDEPENDENT=NO, the
 *   segment is reported with
 *   `independent: false`, and `forcedCuts` counts it so the channel can warn. No discontinuity is
 *   needed — timestamps stay continuous. Players keep playing; switching into such a segment costs
 *   a decode stall, which beats Apple players failing on a target-duration overflow.
 * - The very first frames of a video stream before its first keyframe are dropped (`droppedFrames`):
 *   no segment may start with a frame that cannot be decoded.
 * - No segment ends at a boundary instant less than MIN_SEGMENT_SECONDS after its start: a run whose
 *   first frame lies just before an instant (audio's first frame 21 ms before it) would otherwise
 *   open with a segment of a frame or two. Its first segment runs on to the next instant instead.
 * - Every part and segment carries its `slot`: the multiple of the segment duration its segment was
 *   cut to end at. Renditions of one run cut at the same instants, so equal slots are the same
 *   segment in every rendition (`RunAlignment` lists them under the same media sequence number).
 * - A cut requested at a stream time (`cutAt`: an ad splice, whose frame the relay marked as a
 *   keyframe) is a boundary instant of its own, given to every rendition of the run with the same
 *   time. Video cuts at the first keyframe within half a frame of it — at most one frame later, and
 *   forced on the frame there if no keyframe came (the mark was lost) so the renditions stay on the same
 *   segments; audio at the first frame at or after it, as at any instant. The segment it ends is
 *   short (nothing changes TARGETDURATION); a cut less than MIN_SEGMENT_SECONDS after the grid
 *   instant the open segment ends at replaces that instant (that segment runs on to the cut), and
 *   one less than MIN_SEGMENT_SECONDS after the open segment's start is refused — no segment under
 *   that length either way. The segment a cut opens runs to the next grid instant at least
 *   MIN_SEGMENT_SECONDS away. Slots stay in order: the segment a cut ends keeps its slot, and the
 *   one it opens, when it ends at that same grid instant, gets `1 + cut / segmentDuration` (between
 *   that slot and the next), computed from the requested time so every rendition gets the same.
 * - A part's bytes are one CMAF chunk (`partChunks`): one moof with a traf per track holding every
 *   sample of the part's frames, then one mdat (`planCoalescedChunks`), where ffmpeg wrote a moof+mdat
 *   per frame or per few frames — ~100 bytes of headers each, downloaded by every viewer. Samples,
 *   decode times, flags and data are the frames' exactly. A segment's bytes stay its parts'
 *   concatenation. Without `partChunks`, a part is its frames' bytes as they came.
 */

/**
 * Shortest segment livepipe lists, seconds. Apple's authoring rules want renditions to share segment
 * boundaries (§6.2.4); a sliver of a segment is what a rendition that ran on past a boundary when its
 * run ended, or started just before one, would otherwise list.
 */
export const MIN_SEGMENT_SECONDS = 0.1;

export interface CutterFrame {
  /** Decode time, track timescale units (tfdt). */
  decodeTime: number;
  /** Track timescale units. */
  duration: number;
  /** Starts with a sync sample (keyframe; every audio frame). */
  independent: boolean;
  /**
   * The frame's moof + mdat (a muxed frame: several). Held as a view until its part closes, so it
   * must not change before: see `SegmentCutter.push`.
   */
  bytes: Uint8Array;
}

export interface SegmentCutterOptions {
  kind: 'video' | 'audio';
  /** Track timescale (mdhd). */
  timescale: number;
  /** PART-TARGET, seconds. */
  partTarget: number;
  /** Nominal segment duration, seconds; boundaries fall on its multiples. */
  segmentDuration: number;
  /** EXT-X-TARGETDURATION, whole seconds; default and minimum `ceil(segmentDuration)`. */
  targetDuration?: number;
  /**
   * Make each part one CMAF chunk (see the header), with the init segment's trex defaults for
   * fragments that rely on them (`trackDefaultsOf(init)`). Absent: parts are the frames' bytes.
   */
  partChunks?: { defaults: TrackDefaults };
}

export interface CutPart {
  /** Index within its segment (0-based). */
  index: number;
  /** Stream time of the first frame, seconds (decode time / timescale). */
  startTime: number;
  /** Seconds (exact: frame durations summed in timescale units, then divided). */
  duration: number;
  independent: boolean;
  /**
   * The part ends at or after the next boundary instant, so it is the segment's last part if the next
   * frame is a keyframe (always, with GOPs aligned on the segment duration). The timeline then hints
   * the next segment's first part instead of this segment's next part.
   */
  endsAtBoundary: boolean;
  /** The slot of its segment (see the header). */
  slot: number;
  bytes: Uint8Array;
}

export interface CutSegment {
  startTime: number;
  duration: number;
  /** Starts with a keyframe; false only after a forced cut. */
  independent: boolean;
  partCount: number;
  /** The multiple of the segment duration the segment was cut to end at (see the header). */
  slot: number;
  /** Concatenation of the segment's parts (a view sharing their memory). */
  bytes: Uint8Array;
}

export type CutterEvent = { type: 'part'; part: CutPart } | { type: 'segment'; segment: CutSegment };

/** The slot a cutter event belongs to. */
export function slotOf(event: CutterEvent): number {
  return event.type === 'part' ? event.part.slot : event.segment.slot;
}

/** How far a cutter got, in slots (see `SegmentCutter.reach`). */
export interface CutterReach {
  /** Slot of the first segment the cutter opened. */
  first: number;
  /** Highest slot whose segment is closed, or open with at least the minimum duration in it. */
  reach: number;
  /** Slot of the open segment (undefined between segments). */
  open: number | undefined;
}

/** A boundary requested at a stream time (`cutAt`): in timescale units, and as given. */
interface RequestedCut {
  at: number;
  seconds: number;
}

/** Timing tolerance, seconds: keyframes up to 1 ms before an instant count as on it (timescale rounding). */
const EPSILON_SECONDS = 0.001;

function configInvalid(message: string): LivepipeError {
  return new LivepipeError(ErrorCode.ConfigInvalid, message);
}

export function targetDurationFor(segmentDuration: number, configured?: number): number {
  const minimum = Math.ceil(segmentDuration - 1e-9);
  if (configured === undefined) return minimum;
  if (!Number.isInteger(configured) || configured < minimum) {
    throw configInvalid(`targetDuration ${configured} must be a whole number ≥ ceil(segmentDuration) = ${minimum}`);
  }
  return configured;
}

export class SegmentCutter {
  readonly targetDuration: number;
  readonly partTarget: number;
  /** Segments force-closed without a keyframe (see the class comment). */
  forcedCuts = 0;
  /** Leading frames dropped while waiting for the first keyframe. */
  droppedFrames = 0;
  /** Cuts refused by `cutAt` because this cutter had already passed their time. */
  lateCuts = 0;
  /** Bytes of the frames pushed and of the parts written (less with `partChunks`), for measurement. */
  frameBytes = 0;
  partBytes = 0;
  /** Parts kept as their frames came because they could not be made one chunk (see `planChunk`). */
  uncoalescedParts = 0;

  private readonly timescale: number;
  private readonly kind: 'video' | 'audio';
  private readonly segmentUnits: number;
  private readonly partTargetUnits: number;
  /** Longest segment allowed, timescale units: just under TARGETDURATION + 0.5 s (see above). */
  private readonly maxSegmentUnits: number;
  private readonly eps: number;
  private readonly part = new PartBuilder();
  /** The open segment's bytes; parts and the segment are views on it (see MediaBuffer). */
  private readonly media = new MediaBuffer();
  private segmentOpen = false;
  private segmentStart = 0;
  private segmentIndependent = false;
  private partIndex = 0;
  /** Next boundary instant, timescale units (may be fractional). */
  private nextBoundary = 0;
  /** `nextBoundary` as a multiple of the segment duration: the open segment's slot. */
  private slot = 0;
  private firstSlot: number | undefined;
  /** The grid instant (as a multiple of the segment duration) the open segment would end at without a cut. */
  private gridSlot = 0;
  /** Where the open segment nominally starts (the boundary instant or cut it opened at), timescale units. */
  private nominalStart = 0;
  /** The open segment ends at this requested cut instead of its grid instant. */
  private boundaryCut: RequestedCut | undefined;
  /** How the last segment closed: at its boundary instant (units), and the requested cut if it was one. */
  private lastClose: { at: number; cut: RequestedCut | undefined } | undefined;
  /** Requested cuts not applied yet, ascending. */
  private cuts: RequestedCut[] = [];
  private readonly segmentDuration: number;
  private lastClosedSlot: number | undefined;
  private readonly minSegmentUnits: number;
  private readonly partChunks: { defaults: TrackDefaults } | undefined;
  private lastDecodeTime = -Infinity;
  /** A segment was opened once: later segments may start on a non-keyframe (forced cut). */
  private started = false;

  constructor(options: SegmentCutterOptions) {
    const { timescale, partTarget, segmentDuration } = options;
    if (!(timescale > 0) || !Number.isInteger(timescale)) throw configInvalid(`timescale ${timescale} must be a positive integer`);
    if (!(partTarget > 0)) throw configInvalid(`partTarget ${partTarget} must be positive`);
    if (!(segmentDuration >= partTarget)) throw configInvalid(`segmentDuration ${segmentDuration} must be ≥ partTarget ${partTarget}`);
    this.kind = options.kind;
    this.timescale = timescale;
    this.partTarget = partTarget;
    this.targetDuration = targetDurationFor(segmentDuration, options.targetDuration);
    this.segmentUnits = segmentDuration * timescale;
    this.segmentDuration = segmentDuration;
    // Frame times are integers: the largest whole number of units within PART-TARGET, compared exactly
    // (no tolerance here — a part must never overshoot PART-TARGET, not even by a rounding error).
    this.partTargetUnits = Math.floor(partTarget * timescale + 1e-6);
    this.maxSegmentUnits = (this.targetDuration + 0.5 - EPSILON_SECONDS) * timescale;
    this.eps = EPSILON_SECONDS * timescale;
    this.minSegmentUnits = MIN_SEGMENT_SECONDS * timescale;
    this.partChunks = options.partChunks;
  }

  /**
   * Where the cutter stands, in slots: undefined before its first segment. The open segment counts
   * once it holds `minSeconds` of media (default MIN_SEGMENT_SECONDS).
   */
  reach(minSeconds = MIN_SEGMENT_SECONDS): CutterReach | undefined {
    if (this.firstSlot === undefined) return undefined;
    const closed = this.lastClosedSlot ?? this.firstSlot - 1;
    if (!this.segmentOpen) return { first: this.firstSlot, reach: closed, open: undefined };
    // Frames are added right after a segment opens, so `part.end` is the open segment's last frame's end.
    const held = this.part.end - this.segmentStart;
    const reach = held >= minSeconds * this.timescale - this.eps ? this.slot : closed;
    return { first: this.firstSlot, reach, open: this.slot };
  }

  /**
   * A segment boundary at stream time `seconds` (see the header). Returns false when refused: this
   * cutter already passed that time (`lateCuts`), or it lies less than MIN_SEGMENT_SECONDS after the
   * open segment's start or another cut.
   */
  cutAt(seconds: number): boolean {
    const at = seconds * this.timescale;
    if (!Number.isFinite(at)) return false;
    if (this.lastDecodeTime >= at - this.eps) {
      this.lateCuts++;
      return false;
    }
    const last = this.cuts[this.cuts.length - 1]?.at ?? this.boundaryCut?.at ?? (this.segmentOpen ? this.nominalStart : undefined);
    if (last !== undefined && at < last + this.minSegmentUnits - this.eps) return false;
    this.cuts.push({ at, seconds });
    if (this.segmentOpen) this.applyCut();
    return true;
  }

  /**
   * Withdraws a cut `cutAt` accepted (another rendition refused it: all cut, or none). Call it before
   * any further frame, as the channel does in the same tick.
   */
  cancelCut(seconds: number): void {
    this.cuts = this.cuts.filter((c) => c.seconds !== seconds);
    if (this.boundaryCut?.seconds !== seconds) return;
    this.boundaryCut = undefined;
    this.nextBoundary = this.gridSlot * this.segmentUnits;
  }

  /** Drops the open segment unlisted (its run ended before every rendition reached it). */
  discard(): void {
    if (!this.segmentOpen) return;
    this.part.take();
    this.media.reset(this.media.length);
    this.segmentOpen = false;
  }

  push(frame: CutterFrame): CutterEvent[] {
    const { decodeTime, duration, independent } = frame;
    if (!Number.isFinite(decodeTime) || !Number.isFinite(duration) || duration < 0) {
      throw malformed(`frame with invalid timing (decode time ${decodeTime}, duration ${duration})`);
    }
    if (decodeTime < this.lastDecodeTime) {
      throw malformed(`decode time went backwards (${decodeTime} after ${this.lastDecodeTime}); start a new run instead`);
    }
    if (duration > this.partTargetUnits) {
      throw malformed(`a ${duration / this.timescale}s frame cannot fit PART-TARGET ${this.partTarget}s`);
    }
    this.lastDecodeTime = decodeTime;
    const events: CutterEvent[] = [];

    if (!this.segmentOpen) {
      if (!this.started && this.kind === 'video' && !independent) {
        this.droppedFrames++;
        return events;
      }
      this.openSegment(decodeTime, independent);
    } else {
      const end = decodeTime + duration;
      const atBoundary = this.boundaryDue(decodeTime, duration, independent);
      const overflows = end - this.segmentStart > this.maxSegmentUnits;
      if (atBoundary || overflows) {
        this.closeSegment(events, atBoundary);
        this.openSegment(decodeTime, independent);
      } else if (!this.part.empty && end - this.part.start > this.partTargetUnits) {
        this.closePart(events);
      }
    }

    // Held as a view until the part closes, then written once into the segment's buffer (as many
    // copies as when frames were appended on arrival). No copy is needed to keep it: a fragment's
    // bytes lie in the pipe read they came in, which Node allocates per read and never reuses for
    // the encoder's pipes, in a box the reader assembled (`Fmp4Reader.push`), or in the muxed frame
    // the interleaver built; nothing writes to them once delivered. A part holds a few reads alive.
    this.part.add(decodeTime, duration, independent, frame.bytes);
    this.frameBytes += frame.bytes.byteLength;

    // Close early, when one more frame of this duration could not fit: the part is full, or the segment
    // must end (its longest duration reached, or — for audio — the next frame starts at a boundary instant).
    const nextEnd = this.part.end + duration;
    if (nextEnd - this.segmentStart > this.maxSegmentUnits) {
      this.closeSegment(events, false);
    } else if (this.kind === 'audio' && this.part.end >= this.nextBoundary - this.eps) {
      this.closeSegment(events, true);
    } else if (nextEnd - this.part.start > this.partTargetUnits) {
      this.closePart(events);
    }
    return events;
  }

  /** Closes the open part and segment (end of a run or of the stream). */
  flush(): CutterEvent[] {
    const events: CutterEvent[] = [];
    if (this.segmentOpen) this.closeSegment(events, false);
    return events;
  }

  /**
   * Does a frame at `decodeTime` start the next segment? At a grid instant: a keyframe (video) or any
   * frame (audio) at or after it. At a requested cut, video takes the keyframe within half a frame
   * of it, else the frame one frame later whatever it is (see the header).
   */
  private boundaryDue(decodeTime: number, duration: number, independent: boolean): boolean {
    const cut = this.boundaryCut?.at;
    if (cut === undefined || this.kind === 'audio') return decodeTime >= this.nextBoundary - this.eps && (this.kind === 'audio' || independent);
    const half = Math.max(this.eps, duration / 2);
    return decodeTime >= cut - half && (independent || decodeTime >= cut + half);
  }

  private openSegment(decodeTime: number, independent: boolean): void {
    if (this.started && !independent) this.forcedCuts++;
    this.started = true;
    this.segmentOpen = true;
    this.segmentStart = decodeTime;
    this.segmentIndependent = independent;
    this.partIndex = 0;
    // A segment opened at a requested cut is reckoned from the cut's time (the same in every
    // rendition), else from its first frame, as before cuts existed.
    const close = this.lastClose;
    this.lastClose = undefined;
    const from = close?.cut !== undefined ? close.at : decodeTime;
    // The first multiple of the segment duration at least MIN_SEGMENT_SECONDS after this segment's start.
    const k = Math.ceil((from + this.minSegmentUnits - this.eps) / this.segmentUnits);
    // A cut splitting a grid segment: this one ends at the same grid instant as the one before it, so
    // its slot lies between that one's and the next (see the header), from the requested seconds: the
    // same number in every rendition, whatever its timescale.
    this.slot = close?.cut !== undefined && k === this.gridSlot ? 1 + close.cut.seconds / this.segmentDuration : k;
    this.gridSlot = k;
    this.nextBoundary = k * this.segmentUnits;
    this.nominalStart = close?.at ?? decodeTime;
    this.boundaryCut = undefined;
    this.firstSlot ??= this.slot;
    this.applyCut();
  }

  /**
   * Makes the first pending cut the open segment's end when it falls before its grid instant, or less
   * than MIN_SEGMENT_SECONDS after it (it then replaces that instant). Cuts too close after the
   * segment's start are dropped.
   */
  private applyCut(): void {
    if (this.boundaryCut !== undefined) return;
    while (this.cuts.length > 0 && this.cuts[0]!.at < this.nominalStart + this.minSegmentUnits - this.eps) this.cuts.shift();
    const cut = this.cuts[0];
    if (cut === undefined || cut.at >= this.gridSlot * this.segmentUnits + this.minSegmentUnits - this.eps) return;
    this.cuts.shift();
    this.boundaryCut = cut;
    this.nextBoundary = cut.at;
  }

  /**
   * The part's frames as one chunk, or undefined when they cannot be (a box the coalescer would have
   * to drop, such as encryption or sample groups — ffmpeg's live outputs carry none): the part then
   * keeps its frames as they came (`uncoalescedParts`). Coalescing only saves bytes; it must never
   * cost media the frames' own bytes would have played.
   */
  private planChunk(frames: readonly Uint8Array[], defaults: TrackDefaults): ReturnType<typeof planCoalescedChunks> | undefined {
    try {
      return planCoalescedChunks(frames, defaults);
    } catch {
      this.uncoalescedParts++;
      return undefined;
    }
  }

  private closePart(events: CutterEvent[]): void {
    const built = this.part.take();
    const from = this.media.length;
    const chunk = this.partChunks === undefined ? undefined : this.planChunk(built.frames, this.partChunks.defaults);
    if (chunk !== undefined) chunk.writeTo(this.media.reserve(chunk.byteLength));
    else for (const frame of built.frames) this.media.append(frame);
    this.partBytes += this.media.length - from;
    events.push({
      type: 'part',
      part: {
        index: this.partIndex++,
        startTime: built.start / this.timescale,
        duration: (built.end - built.start) / this.timescale,
        independent: built.independent,
        endsAtBoundary: built.end >= this.nextBoundary - this.eps,
        slot: this.slot,
        bytes: this.media.view(from),
      },
    });
  }

  /** `atBoundary`: closed at its boundary instant or cut (not forced, not at the end of a run). */
  private closeSegment(events: CutterEvent[], atBoundary: boolean): void {
    if (!this.part.empty) this.closePart(events);
    this.lastClose = atBoundary ? { at: this.nextBoundary, cut: this.boundaryCut } : undefined;
    const end = this.part.end;
    events.push({
      type: 'segment',
      segment: {
        startTime: this.segmentStart / this.timescale,
        duration: (end - this.segmentStart) / this.timescale,
        independent: this.segmentIndependent,
        partCount: this.partIndex,
        slot: this.slot,
        bytes: this.media.view(0),
      },
    });
    this.lastClosedSlot = this.slot;
    // The next segment is about this size: a quarter more spares most growth copies.
    this.media.reset(1.25 * this.media.length);
    this.segmentOpen = false;
  }
}
