/**
 * The media playlist as plain data: one field per tag. The packager mutates a model, one serializer
 * (`playlist-serializer.ts`) renders it in full or as a delta update, and the origin answers blocking
 * requests by looking at it. No playlist text is built anywhere else.
 *
 * Durations are seconds (floating point). URIs are relative to the playlist's own URL.
 */

/** EXT-X-PART */
export interface PartEntry {
  uri: string;
  /** Seconds; always ≤ the playlist's `partTarget`. */
  duration: number;
  /** INDEPENDENT=YES: the part starts with a sync sample. */
  independent: boolean;
  /** GAP=YES: the part could not be stored; players skip it. */
  gap?: boolean;
}

/** One media segment (EXTINF + URI) and the parts it was built from. */
export interface SegmentEntry {
  /** Media sequence number of this segment. */
  msn: number;
  uri: string;
  /** Seconds (EXTINF). */
  duration: number;
  /**
   * The segment's parts while they are still listed (within 3 target durations of the live edge);
   * an empty array once they aged out (§6.2.2).
   */
  parts: PartEntry[];
  /** EXT-X-DISCONTINUITY precedes this segment. */
  discontinuity: boolean;
  /** EXT-X-PROGRAM-DATE-TIME of the segment's first sample, as epoch milliseconds. */
  programDateTime: number;
  /** EXT-X-MAP URI in force for this segment (a new EXT-X-MAP is written whenever it changes). */
  mapUri: string;
  /** EXT-X-GAP: the segment is missing. */
  gap?: boolean;
}

/** The segment being built at the live edge: its parts are published before its full URI. */
export interface PendingSegment {
  msn: number;
  parts: PartEntry[];
  discontinuity: boolean;
  programDateTime: number;
  mapUri: string;
}

/** EXT-X-RENDITION-REPORT for another rendition of the same multivariant playlist. */
export interface RenditionReport {
  /** Relative URI of that rendition's media playlist. */
  uri: string;
  lastMsn: number;
  lastPart: number;
}

/** EXT-X-SERVER-CONTROL */
export interface ServerControl {
  canBlockReload: boolean;
  /** Seconds; ≥ 3 × part target. */
  partHoldBack: number;
  /** Seconds; ≥ 3 × target duration. */
  holdBack: number;
  /** Seconds; ≥ 6 × target duration. */
  canSkipUntil: number;
  /**
   * CAN-SKIP-DATERANGES=YES: a `_HLS_skip=v2` delta update also leaves out the date ranges that start
   * before the skip boundary, listing removed ones in RECENTLY-REMOVED-DATERANGES. Default false.
   */
  canSkipDateRanges?: boolean;
}

/**
 * EXT-X-DATERANGE (§4.4.5.1), as livepipe writes it for ad breaks (§4.4.5.1.1, "Mapping SCTE-35 into
 * EXT-X-DATERANGE"): the splice out opens a range carrying SCTE35-OUT (and PLANNED-DURATION when the
 * break's length is announced); the splice in completes the same ID with SCTE35-IN and DURATION. One
 * entry per ID: an update replaces the entry, and the tag is rendered with every attribute it has so far
 * ("tags with the same ID … MUST NOT differ in attributes they share").
 */
export interface DateRange {
  /** ID: unique in the playlist. */
  id: string;
  /** CLASS, optional. */
  class?: string;
  /** START-DATE as epoch milliseconds: the PROGRAM-DATE-TIME of the segment at the splice point. */
  startDate: number;
  /** DURATION, seconds: known once the range has ended (the splice in). */
  duration?: number;
  /** PLANNED-DURATION, seconds: the announced length while the range is open. */
  plannedDuration?: number;
  /** SCTE35-OUT / SCTE35-IN / SCTE35-CMD: a splice_info_section as a hexadecimal-sequence ("0xFC30…"). */
  scte35Out?: string;
  scte35In?: string;
  scte35Cmd?: string;
}

/** Where a date range ends (epoch ms): its DURATION, else its PLANNED-DURATION, else its start. */
export function dateRangeEnd(range: DateRange): number {
  return range.startDate + 1000 * (range.duration ?? range.plannedDuration ?? 0);
}

/**
 * How far apart (ms) two PROGRAM-DATE-TIMEs may be and still name the same segment boundary: renditions
 * share boundaries (§6.2.4), but each computes its PDT from its own first sample, so audio and video
 * differ by up to a frame. 50 ms, or half a part target when that is less.
 */
export function boundaryToleranceMs(playlist: Pick<MediaPlaylist, 'partTarget'>): number {
  return Math.min(50, 500 * playlist.partTarget);
}

/**
 * Whether any of a range's time is at or after `from` (epoch ms): it starts there or later, or it ends
 * after it. A range that ends exactly at `from` lies wholly before it.
 */
export function dateRangeReaches(range: DateRange, from: number): boolean {
  return range.startDate >= from || dateRangeEnd(range) > from;
}

export interface MediaPlaylist {
  /** EXT-X-VERSION (9 for delta updates / LL-HLS). */
  version: number;
  /** EXT-X-TARGETDURATION, whole seconds; fixed for the life of the stream. */
  targetDuration: number;
  /** EXT-X-PART-INF:PART-TARGET, seconds; fixed for the life of the stream. */
  partTarget: number;
  serverControl: ServerControl;
  /** EXT-X-MEDIA-SEQUENCE: msn of `segments[0]` (or of `pending` when there are no segments yet). */
  mediaSequence: number;
  /** EXT-X-DISCONTINUITY-SEQUENCE: discontinuities that slid out before `segments[0]`. */
  discontinuitySequence: number;
  /** Completed segments, oldest first, consecutive msns. */
  segments: SegmentEntry[];
  /** The segment in progress, or undefined between runs / after the end. */
  pending?: PendingSegment;
  /** EXT-X-PRELOAD-HINT:TYPE=PART,URI=… for the next part. */
  preloadHint?: { uri: string };
  renditionReports: RenditionReport[];
  /** EXT-X-ENDLIST */
  endList: boolean;
  /**
   * EXT-X-DATERANGE tags, by START-DATE. A range stays while any of its time is in the window
   * (`expireDateRanges`). Absent = none.
   */
  dateRanges?: DateRange[];
  /**
   * IDs of date ranges that left the playlist recently: EXT-X-SKIP's RECENTLY-REMOVED-DATERANGES in a
   * delta update that skips date ranges (§4.4.5.2, §6.2.5.1). Kept for one window after removal.
   */
  recentlyRemovedDateRanges?: Array<{ id: string; removedAtMsn: number }>;
  /**
   * Also write the legacy EXT-X-CUE-OUT:<seconds> / EXT-X-CUE-IN before the segment where a range with
   * SCTE35-OUT starts / ends, for ad inserters that predate EXT-X-DATERANGE. Default false.
   */
  cueTags?: boolean;
}

/**
 * Drops the date ranges whose whole time lies before the window's first segment (their segments left
 * the playlist) and remembers their IDs for RECENTLY-REMOVED-DATERANGES for one window length.
 * A range without DURATION or PLANNED-DURATION stays until its start leaves. Mutates `playlist`.
 */
export function expireDateRanges(playlist: MediaPlaylist): void {
  const first = playlist.segments[0] ?? playlist.pending;
  if (first === undefined || playlist.dateRanges === undefined) return;
  const windowStart = first.programDateTime;
  const kept: DateRange[] = [];
  const removed = playlist.recentlyRemovedDateRanges ?? [];
  for (const range of playlist.dateRanges) {
    if (!dateRangeReaches(range, windowStart)) removed.push({ id: range.id, removedAtMsn: playlist.mediaSequence });
    else kept.push(range);
  }
  playlist.dateRanges = kept;
  const window = playlist.segments.length + 1;
  const recent = removed.filter((r) => r.removedAtMsn + window > playlist.mediaSequence);
  if (recent.length > 0 || playlist.recentlyRemovedDateRanges !== undefined) playlist.recentlyRemovedDateRanges = recent;
}

/** The last (msn, part index) the playlist fully contains; `part` is -1 if the msn has no listed part. */
export function lastPosition(playlist: MediaPlaylist): { msn: number; part: number } {
  if (playlist.pending && playlist.pending.parts.length > 0) {
    return { msn: playlist.pending.msn, part: playlist.pending.parts.length - 1 };
  }
  const last = playlist.segments[playlist.segments.length - 1];
  if (last) return { msn: last.msn, part: last.parts.length - 1 };
  return { msn: playlist.mediaSequence - 1, part: -1 };
}

/**
 * Wall-clock time (epoch ms, by EXT-X-PROGRAM-DATE-TIME) at which the newest listed media ends: the
 * open segment's last part, else the last complete segment; undefined when nothing is listed.
 * `now − this` is how far the playlist's edge trails real time.
 */
export function listedMediaEnd(playlist: Pick<MediaPlaylist, 'segments' | 'pending'>): number | undefined {
  const { pending, segments } = playlist;
  if (pending !== undefined && pending.parts.length > 0) return pending.programDateTime + 1000 * pending.parts.reduce((sum, p) => sum + p.duration, 0);
  const last = segments[segments.length - 1];
  return last === undefined ? undefined : last.programDateTime + 1000 * last.duration;
}

/** EXT-X-STREAM-INF / EXT-X-MEDIA entries of the multivariant playlist. */
export interface VariantStream {
  uri: string;
  /** Peak segment bitrate, bits/s (measured). */
  bandwidth: number;
  /** Average segment bitrate, bits/s (measured). */
  averageBandwidth: number;
  codecs: string;
  resolution: { width: number; height: number };
  frameRate: number;
  /** GROUP-ID of the audio EXT-X-MEDIA group, when there is audio. */
  audioGroup?: string;
  /**
   * CLOSED-CAPTIONS: the GROUP-ID of the EXT-X-MEDIA TYPE=CLOSED-CAPTIONS group, or `NONE` when the
   * stream has none ("If the value is NONE, all EXT-X-STREAM-INF tags MUST have this attribute with a
   * value of NONE", §4.4.6.2). Absent: not said (clients may then look for captions themselves).
   */
  closedCaptions?: string | 'NONE';
}

/** EXT-X-MEDIA TYPE=CLOSED-CAPTIONS (§4.4.6.1): captions carried in the video (no URI). */
export interface ClosedCaptionRendition {
  groupId: string;
  name: string;
  /** INSTREAM-ID: `CC1`…`CC4` (CEA-608 channels) or `SERVICE1`…`SERVICE63` (CEA-708). */
  instreamId: string;
  language?: string;
  default: boolean;
}

export interface AudioRendition {
  groupId: string;
  name: string;
  uri: string;
  default: boolean;
  channels: number;
  language?: string;
}

export interface MultivariantPlaylist {
  version: number;
  independentSegments: boolean;
  audio: AudioRendition[];
  /** Closed-caption renditions; default none. */
  closedCaptions?: ClosedCaptionRendition[];
  variants: VariantStream[];
}
