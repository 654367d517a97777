import { boundaryToleranceMs, dateRangeEnd, dateRangeReaches, type DateRange, type MediaPlaylist, type MultivariantPlaylist, type PartEntry, type SegmentEntry } from './playlist-model.js';

/**
 * The one place where playlist text is made: `MediaPlaylist` → text, in full or as a delta update
 * (`_HLS_skip=YES|v2`, §6.2.5.1), and `MultivariantPlaylist` → text. Numbers are printed with up to
 * six decimals — the precision the model keeps (`roundDuration`) — so `parseMediaPlaylist` gives the
 * model back unchanged.
 */

export interface MediaSerializeOptions {
  /**
   * Delta update: replace the segments that end at least CAN-SKIP-UNTIL before the end of the playlist
   * with `EXT-X-SKIP:SKIPPED-SEGMENTS=N`. `YES` keeps every EXT-X-DATERANGE. `v2`, when the playlist
   * says CAN-SKIP-DATERANGES=YES, also leaves out the date ranges that lie wholly before the skip boundary
   * (the client has them: it reloaded within CAN-SKIP-UNTIL) and adds RECENTLY-REMOVED-DATERANGES
   * (§4.4.5.2, §6.2.5.1); without CAN-SKIP-DATERANGES, `v2` is answered as `YES`. When nothing can be
   * skipped the full playlist is returned, which clients accept.
   */
  skip?: 'YES' | 'v2';
}

/** Seconds with up to 6 decimals and at least 3 ("2.000", "0.533333"). */
export function formatDecimal(value: number): string {
  const fixed = value.toFixed(6);
  return fixed.replace(/0{1,3}$/, '');
}

const yes = (flag: boolean): string => (flag ? 'YES' : 'NO');

function partLine(part: PartEntry): string {
  let line = `#EXT-X-PART:DURATION=${formatDecimal(part.duration)},URI="${part.uri}"`;
  if (part.independent) line += ',INDEPENDENT=YES';
  if (part.gap) line += ',GAP=YES';
  return line;
}

const dateLine = (epochMs: number): string => `#EXT-X-PROGRAM-DATE-TIME:${new Date(epochMs).toISOString()}`;

/** EXT-X-DATERANGE (§4.4.5.1): ID, CLASS, START-DATE, DURATION, PLANNED-DURATION, SCTE35-CMD/OUT/IN. */
export function dateRangeLine(range: DateRange): string {
  let line = `#EXT-X-DATERANGE:ID="${range.id}"`;
  if (range.class !== undefined) line += `,CLASS="${range.class}"`;
  line += `,START-DATE="${new Date(range.startDate).toISOString()}"`;
  if (range.duration !== undefined) line += `,DURATION=${formatDecimal(range.duration)}`;
  if (range.plannedDuration !== undefined) line += `,PLANNED-DURATION=${formatDecimal(range.plannedDuration)}`;
  if (range.scte35Cmd !== undefined) line += `,SCTE35-CMD=${range.scte35Cmd}`;
  if (range.scte35Out !== undefined) line += `,SCTE35-OUT=${range.scte35Out}`;
  if (range.scte35In !== undefined) line += `,SCTE35-IN=${range.scte35In}`;
  return line;
}

/** Lines placed before a segment: the date ranges starting at it and the legacy cue tags. */
interface Marker {
  at: number;
  line: string;
}

/**
 * Every date range goes before the first rendered segment (or the open segment) whose
 * PROGRAM-DATE-TIME is at or after its START-DATE (within `boundaryToleranceMs`) — the segment at the splice point — or at the end
 * when that segment is not listed yet. With `cueTags`, EXT-X-CUE-OUT:<seconds> goes before the segment
 * where a range with SCTE35-OUT starts and EXT-X-CUE-IN before the one where it ends.
 */
function markersOf(playlist: MediaPlaylist, ranges: DateRange[]): Marker[] {
  const markers: Marker[] = [];
  for (const range of ranges) {
    markers.push({ at: range.startDate, line: dateRangeLine(range) });
    if (playlist.cueTags && range.scte35Out !== undefined) {
      const seconds = range.plannedDuration ?? range.duration;
      markers.push({ at: range.startDate, line: seconds === undefined ? '#EXT-X-CUE-OUT' : `#EXT-X-CUE-OUT:${formatDecimal(seconds)}` });
      if (range.duration !== undefined) markers.push({ at: dateRangeEnd(range), line: '#EXT-X-CUE-IN' });
    }
  }
  return markers.sort((a, b) => a.at - b.at);
}

interface RenderedSegment {
  parts: PartEntry[];
  partCount: number;
  duration: number;
  uri: string;
  gap: boolean | undefined;
  programDateTime: number;
  text: string;
}

/**
 * Rendered completed segments, by entry. A live playlist is rendered after every part, and all but
 * its newest segments render the same each time (a 60 s window: ~30 of them, ~90 % of the text).
 * An entry is rendered again when any field printed here changed (parts age out as a new array).
 */
const renderedSegments = new WeakMap<SegmentEntry, RenderedSegment>();

/** A completed segment's lines after its DISCONTINUITY / MAP header: date, gap, parts, EXTINF, URI. */
function segmentText(segment: SegmentEntry): string {
  const cached = renderedSegments.get(segment);
  if (
    cached !== undefined &&
    cached.parts === segment.parts &&
    cached.partCount === segment.parts.length &&
    cached.duration === segment.duration &&
    cached.uri === segment.uri &&
    cached.gap === segment.gap &&
    cached.programDateTime === segment.programDateTime
  ) {
    return cached.text;
  }
  const lines = [dateLine(segment.programDateTime)];
  if (segment.gap) lines.push('#EXT-X-GAP');
  for (const part of segment.parts) lines.push(partLine(part));
  lines.push(`#EXTINF:${formatDecimal(segment.duration)},`, segment.uri);
  const text = lines.join('\n');
  renderedSegments.set(segment, {
    parts: segment.parts,
    partCount: segment.parts.length,
    duration: segment.duration,
    uri: segment.uri,
    gap: segment.gap,
    programDateTime: segment.programDateTime,
    text,
  });
  return text;
}

/** Number of leading segments a delta update may skip: those ending ≥ CAN-SKIP-UNTIL before the end. */
export function skippableSegments(playlist: MediaPlaylist): number {
  let total = 0;
  for (const s of playlist.segments) total += s.duration;
  for (const p of playlist.pending?.parts ?? []) total += p.duration;
  let end = 0;
  let count = 0;
  for (const s of playlist.segments) {
    end += s.duration;
    if (total - end < playlist.serverControl.canSkipUntil - 1e-6) break;
    count++;
  }
  return count;
}

export function serializeMediaPlaylist(playlist: MediaPlaylist, options: MediaSerializeOptions = {}): string {
  const sc = playlist.serverControl;
  const lines = [
    '#EXTM3U',
    `#EXT-X-VERSION:${playlist.version}`,
    `#EXT-X-TARGETDURATION:${playlist.targetDuration}`,
    `#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=${yes(sc.canBlockReload)},PART-HOLD-BACK=${formatDecimal(sc.partHoldBack)},` +
      `HOLD-BACK=${formatDecimal(sc.holdBack)},CAN-SKIP-UNTIL=${formatDecimal(sc.canSkipUntil)}` +
      (sc.canSkipDateRanges ? ',CAN-SKIP-DATERANGES=YES' : ''),
    `#EXT-X-PART-INF:PART-TARGET=${formatDecimal(playlist.partTarget)}`,
    `#EXT-X-MEDIA-SEQUENCE:${playlist.mediaSequence}`,
    `#EXT-X-DISCONTINUITY-SEQUENCE:${playlist.discontinuitySequence}`,
  ];
  const skipped = options.skip ? skippableSegments(playlist) : 0;
  let ranges = playlist.dateRanges ?? [];
  if (skipped > 0) {
    let line = `#EXT-X-SKIP:SKIPPED-SEGMENTS=${skipped}`;
    if (options.skip === 'v2' && sc.canSkipDateRanges) {
      const boundary = playlist.segments[skipped]?.programDateTime ?? playlist.pending?.programDateTime ?? Infinity;
      ranges = ranges.filter((r) => dateRangeReaches(r, boundary));
      const removed = (playlist.recentlyRemovedDateRanges ?? []).map((r) => r.id);
      line += `,RECENTLY-REMOVED-DATERANGES="${removed.join('\t')}"`;
    }
    lines.push(line);
  }
  const markers = markersOf(playlist, ranges);
  const tolerance = boundaryToleranceMs(playlist);
  let nextMarker = 0;
  // The markers due at or before this PROGRAM-DATE-TIME. Before the first rendered segment, a cue tag
  // whose time passed already is dropped: that segment is not where the splice happened.
  const markersUpTo = (pdt: number, first: boolean): void => {
    while (nextMarker < markers.length && markers[nextMarker]!.at <= pdt + tolerance) {
      const m = markers[nextMarker++]!;
      if (!(first && m.at < pdt - tolerance && !m.line.startsWith('#EXT-X-DATERANGE'))) lines.push(m.line);
    }
  };

  // EXT-X-MAP is repeated before the first rendered segment (after a skip too) and whenever it changes.
  let mapUri: string | undefined;
  const header = (entry: { discontinuity: boolean; mapUri: string }): void => {
    if (entry.discontinuity) lines.push('#EXT-X-DISCONTINUITY');
    if (entry.mapUri !== mapUri) {
      lines.push(`#EXT-X-MAP:URI="${entry.mapUri}"`);
      mapUri = entry.mapUri;
    }
  };
  const segments = playlist.segments;
  for (let i = skipped; i < segments.length; i++) {
    const segment = segments[i]!;
    markersUpTo(segment.programDateTime, i === skipped);
    header(segment);
    lines.push(segmentText(segment));
  }
  if (playlist.pending && playlist.pending.parts.length > 0) {
    markersUpTo(playlist.pending.programDateTime, skipped >= segments.length);
    header(playlist.pending);
    lines.push(dateLine(playlist.pending.programDateTime));
    for (const part of playlist.pending.parts) lines.push(partLine(part));
  }
  // Ranges that start after the last listed segment's start: only date ranges, no cue tag yet.
  for (; nextMarker < markers.length; nextMarker++) {
    if (markers[nextMarker]!.line.startsWith('#EXT-X-DATERANGE')) lines.push(markers[nextMarker]!.line);
  }
  if (playlist.preloadHint && !playlist.endList) lines.push(`#EXT-X-PRELOAD-HINT:TYPE=PART,URI="${playlist.preloadHint.uri}"`);
  for (const report of playlist.renditionReports) {
    let line = `#EXT-X-RENDITION-REPORT:URI="${report.uri}",LAST-MSN=${report.lastMsn}`;
    if (report.lastPart >= 0) line += `,LAST-PART=${report.lastPart}`;
    lines.push(line);
  }
  if (playlist.endList) lines.push('#EXT-X-ENDLIST');
  return lines.join('\n') + '\n';
}

export function serializeMultivariantPlaylist(playlist: MultivariantPlaylist): string {
  const lines = ['#EXTM3U', `#EXT-X-VERSION:${playlist.version}`];
  if (playlist.independentSegments) lines.push('#EXT-X-INDEPENDENT-SEGMENTS');
  for (const audio of playlist.audio) {
    let line = `#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="${audio.groupId}",NAME="${audio.name}"`;
    if (audio.language) line += `,LANGUAGE="${audio.language}"`;
    line += `,DEFAULT=${yes(audio.default)},AUTOSELECT=YES,CHANNELS="${audio.channels}",URI="${audio.uri}"`;
    lines.push(line);
  }
  for (const v of playlist.variants) {
    let line =
      `#EXT-X-STREAM-INF:BANDWIDTH=${Math.ceil(v.bandwidth)},AVERAGE-BANDWIDTH=${Math.ceil(v.averageBandwidth)},` +
      `CODECS="${v.codecs}",RESOLUTION=${v.resolution.width}x${v.resolution.height},FRAME-RATE=${v.frameRate.toFixed(3)}`;
    if (v.audioGroup) line += `,AUDIO="${v.audioGroup}"`;
    if (v.closedCaptions !== undefined) line += v.closedCaptions === 'NONE' ? ',CLOSED-CAPTIONS=NONE' : `,CLOSED-CAPTIONS="${v.closedCaptions}"`;
    lines.push(line, v.uri);
  }
  return lines.join('\n') + '\n';
}
