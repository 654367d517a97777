import { ErrorCode, LivepipeError } from '../core/errors.js';
import type { DateRange, MediaPlaylist, PartEntry, RenditionReport, SegmentEntry } from './playlist-model.js';

/**
 * Parses livepipe's own media playlists back into the model: for resuming after a process restart and
 * for the standalone origin, which reads playlists from storage. It reads what the serializer writes
 * (full playlists; a delta update has no complete model and is rejected) and ignores tags it does not
 * know, as §4.1 asks of clients. Anything it cannot read is a `MediaMalformed` error naming the line.
 */

function fail(line: number, message: string): LivepipeError {
  return new LivepipeError(ErrorCode.MediaMalformed, `playlist line ${line}: ${message}`);
}

/** `KEY=VALUE,KEY="quoted, value"` → map (§4.2). */
export function parseAttributes(text: string, line: number): Map<string, string> {
  const out = new Map<string, string>();
  const re = /\s*([A-Z0-9-]+)=("[^"\n]*"|[^,"\n]*)\s*(,|$)/gy;
  let at = 0;
  while (at < text.length) {
    re.lastIndex = at;
    const m = re.exec(text);
    if (!m || m[0].length === 0) throw fail(line, `bad attribute list near "${text.slice(at, at + 20)}"`);
    const raw = m[2]!;
    out.set(m[1]!, raw.startsWith('"') ? raw.slice(1, -1) : raw);
    at = re.lastIndex;
  }
  return out;
}

function num(value: string | undefined, line: number, what: string): number {
  if (value === undefined || value.trim() === '') throw fail(line, `${what} is missing`);
  const n = Number(value);
  if (!Number.isFinite(n)) throw fail(line, `${what} "${value}" is not a number`);
  return n;
}

function int(value: string | undefined, line: number, what: string): number {
  const n = num(value, line, what);
  if (!Number.isSafeInteger(n) || n < 0) throw fail(line, `${what} "${value}" is not a non-negative integer`);
  return n;
}

function str(attrs: Map<string, string>, key: string, line: number): string {
  const v = attrs.get(key);
  if (v === undefined) throw fail(line, `${key} is missing`);
  return v;
}

function dateRangeOf(a: Map<string, string>, n: number): DateRange {
  const startText = str(a, 'START-DATE', n);
  const startDate = Date.parse(startText);
  if (!Number.isFinite(startDate)) throw fail(n, `bad START-DATE "${startText}"`);
  const range: DateRange = { id: str(a, 'ID', n), startDate };
  const cls = a.get('CLASS');
  if (cls !== undefined) range.class = cls;
  if (a.has('DURATION')) range.duration = num(a.get('DURATION'), n, 'DURATION');
  if (a.has('PLANNED-DURATION')) range.plannedDuration = num(a.get('PLANNED-DURATION'), n, 'PLANNED-DURATION');
  const cmd = a.get('SCTE35-CMD');
  const out = a.get('SCTE35-OUT');
  const inn = a.get('SCTE35-IN');
  if (cmd !== undefined) range.scte35Cmd = cmd;
  if (out !== undefined) range.scte35Out = out;
  if (inn !== undefined) range.scte35In = inn;
  return range;
}

export function parseMediaPlaylist(text: string): MediaPlaylist {
  const lines = text.split(/\r?\n/);
  if (lines[0]?.trim() !== '#EXTM3U') throw fail(1, 'not an M3U8 playlist (#EXTM3U missing)');
  const playlist: MediaPlaylist = {
    version: 1,
    targetDuration: NaN,
    partTarget: NaN,
    serverControl: { canBlockReload: false, partHoldBack: NaN, holdBack: NaN, canSkipUntil: NaN },
    mediaSequence: 0,
    discontinuitySequence: 0,
    segments: [],
    renditionReports: [],
    endList: false,
  };
  let parts: PartEntry[] = [];
  let discontinuity = false;
  let gap = false;
  let mapUri: string | undefined;
  let pdt: number | undefined;
  let extinf: number | undefined;
  let sawServerControl = false;

  for (let i = 1; i < lines.length; i++) {
    const n = i + 1;
    const line = lines[i]!.trim();
    if (line === '') continue;
    if (!line.startsWith('#')) {
      if (extinf === undefined) throw fail(n, `URI "${line}" without #EXTINF`);
      const msn = playlist.mediaSequence + playlist.segments.length;
      const previous = playlist.segments[playlist.segments.length - 1];
      const programDateTime = pdt ?? (previous ? Math.round(previous.programDateTime + previous.duration * 1000) : undefined);
      if (programDateTime === undefined) throw fail(n, 'the first segment has no #EXT-X-PROGRAM-DATE-TIME');
      if (mapUri === undefined) throw fail(n, 'segment without #EXT-X-MAP');
      const segment: SegmentEntry = { msn, uri: line, duration: extinf, parts, discontinuity, programDateTime, mapUri };
      if (gap) segment.gap = true;
      playlist.segments.push(segment);
      parts = [];
      discontinuity = false;
      gap = false;
      pdt = undefined;
      extinf = undefined;
      continue;
    }
    const colon = line.indexOf(':');
    const tag = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1);
    switch (tag) {
      case '#EXT-X-VERSION':
        playlist.version = int(value, n, 'EXT-X-VERSION');
        break;
      case '#EXT-X-TARGETDURATION':
        playlist.targetDuration = int(value, n, 'EXT-X-TARGETDURATION');
        break;
      case '#EXT-X-SERVER-CONTROL': {
        const a = parseAttributes(value, n);
        sawServerControl = true;
        playlist.serverControl = {
          canBlockReload: a.get('CAN-BLOCK-RELOAD') === 'YES',
          partHoldBack: num(a.get('PART-HOLD-BACK'), n, 'PART-HOLD-BACK'),
          holdBack: num(a.get('HOLD-BACK'), n, 'HOLD-BACK'),
          canSkipUntil: num(a.get('CAN-SKIP-UNTIL'), n, 'CAN-SKIP-UNTIL'),
        };
        if (a.get('CAN-SKIP-DATERANGES') === 'YES') playlist.serverControl.canSkipDateRanges = true;
        break;
      }
      case '#EXT-X-PART-INF':
        playlist.partTarget = num(parseAttributes(value, n).get('PART-TARGET'), n, 'PART-TARGET');
        break;
      case '#EXT-X-MEDIA-SEQUENCE':
        playlist.mediaSequence = int(value, n, 'EXT-X-MEDIA-SEQUENCE');
        break;
      case '#EXT-X-DISCONTINUITY-SEQUENCE':
        playlist.discontinuitySequence = int(value, n, 'EXT-X-DISCONTINUITY-SEQUENCE');
        break;
      case '#EXT-X-SKIP':
        throw fail(n, 'a delta update (EXT-X-SKIP) cannot be read as a whole playlist');
      case '#EXT-X-DISCONTINUITY':
        discontinuity = true;
        break;
      case '#EXT-X-GAP':
        gap = true;
        break;
      case '#EXT-X-MAP':
        mapUri = str(parseAttributes(value, n), 'URI', n);
        break;
      case '#EXT-X-PROGRAM-DATE-TIME': {
        const ms = Date.parse(value);
        if (!Number.isFinite(ms)) throw fail(n, `bad date "${value}"`);
        pdt = ms;
        break;
      }
      case '#EXT-X-PART': {
        const a = parseAttributes(value, n);
        const part: PartEntry = {
          uri: str(a, 'URI', n),
          duration: num(a.get('DURATION'), n, 'DURATION'),
          independent: a.get('INDEPENDENT') === 'YES',
        };
        if (a.get('GAP') === 'YES') part.gap = true;
        parts.push(part);
        break;
      }
      case '#EXTINF':
        extinf = num(value.split(',')[0], n, 'EXTINF duration');
        break;
      case '#EXT-X-PRELOAD-HINT': {
        const a = parseAttributes(value, n);
        if (a.get('TYPE') === 'PART') playlist.preloadHint = { uri: str(a, 'URI', n) };
        break;
      }
      case '#EXT-X-RENDITION-REPORT': {
        const a = parseAttributes(value, n);
        const report: RenditionReport = {
          uri: str(a, 'URI', n),
          lastMsn: int(a.get('LAST-MSN'), n, 'LAST-MSN'),
          lastPart: a.has('LAST-PART') ? int(a.get('LAST-PART'), n, 'LAST-PART') : -1,
        };
        playlist.renditionReports.push(report);
        break;
      }
      case '#EXT-X-ENDLIST':
        playlist.endList = true;
        break;
      case '#EXT-X-DATERANGE': {
        // Tags with the same ID add attributes to one range (§4.4.5.1); livepipe writes one per ID.
        const range = dateRangeOf(parseAttributes(value, n), n);
        const ranges = (playlist.dateRanges ??= []);
        const same = ranges.findIndex((r) => r.id === range.id);
        if (same < 0) ranges.push(range);
        else ranges[same] = { ...ranges[same]!, ...range };
        break;
      }
      case '#EXT-X-CUE-OUT':
      case '#EXT-X-CUE-IN':
        // Derived from the date ranges when written; reading one says the playlist writes them.
        playlist.cueTags = true;
        break;
      default:
        break; // comments and tags livepipe does not write
    }
  }
  if (extinf !== undefined) throw fail(lines.length, '#EXTINF without a URI at the end');
  if (!Number.isFinite(playlist.targetDuration)) throw fail(lines.length, '#EXT-X-TARGETDURATION is missing');
  if (!Number.isFinite(playlist.partTarget)) throw fail(lines.length, '#EXT-X-PART-INF is missing (not a low-latency playlist)');
  if (!sawServerControl) throw fail(lines.length, '#EXT-X-SERVER-CONTROL is missing');
  if (parts.length > 0) {
    const previous = playlist.segments[playlist.segments.length - 1];
    const programDateTime = pdt ?? (previous ? Math.round(previous.programDateTime + previous.duration * 1000) : undefined);
    if (programDateTime === undefined) throw fail(lines.length, 'the open segment has no #EXT-X-PROGRAM-DATE-TIME');
    if (mapUri === undefined) throw fail(lines.length, 'parts without #EXT-X-MAP');
    playlist.pending = {
      msn: playlist.mediaSequence + playlist.segments.length,
      parts,
      discontinuity,
      programDateTime,
      mapUri,
    };
  }
  return playlist;
}
