/**
 * The facts the ops tests check in a media playlist, read straight from its text (our own output
 * format): sequence numbers, discontinuities, segments and parts.
 */
export interface PlaylistFacts {
  mediaSequence: number;
  discontinuitySequence: number;
  /** Discontinuity tags present in the text. */
  discontinuities: number;
  /** msn of the last segment or of the pending segment holding the last part. */
  lastMsn: number;
  /** Parts listed (every EXT-X-PART). */
  parts: number;
  /** Every segment msn listed, in order, with whether a discontinuity precedes it. */
  segments: Array<{ msn: number; discontinuity: boolean; mapUri: string; programDateTime: number; duration: number }>;
  /** URIs of all parts, in order. */
  partUris: string[];
  endList: boolean;
}

/** Reads the facts the ops tests check from a media playlist text (our own output format). */
export function playlistFacts(text: string): PlaylistFacts {
  const lines = text.split('\n');
  const number = (tag: string): number => {
    const line = lines.find((l) => l.startsWith(`${tag}:`));
    return line === undefined ? 0 : Number(line.slice(tag.length + 1));
  };
  const mediaSequence = number('#EXT-X-MEDIA-SEQUENCE');
  const segments: PlaylistFacts['segments'] = [];
  const partUris: string[] = [];
  let msn = mediaSequence;
  let pendingDiscontinuity = false;
  let map = '';
  let partsSinceSegment = 0;
  let pdt = NaN;
  let duration = NaN;
  for (const line of lines) {
    if (line === '#EXT-X-DISCONTINUITY') pendingDiscontinuity = true;
    else if (line.startsWith('#EXT-X-PROGRAM-DATE-TIME:')) pdt = Date.parse(line.slice('#EXT-X-PROGRAM-DATE-TIME:'.length));
    else if (line.startsWith('#EXTINF:')) duration = Number.parseFloat(line.slice('#EXTINF:'.length));
    else if (line.startsWith('#EXT-X-MAP:')) map = /URI="([^"]+)"/.exec(line)?.[1] ?? '';
    else if (line.startsWith('#EXT-X-PART:')) {
      partUris.push(/URI="([^"]+)"/.exec(line)?.[1] ?? '');
      partsSinceSegment++;
    } else if (line !== '' && !line.startsWith('#')) {
      segments.push({ msn, discontinuity: pendingDiscontinuity, mapUri: map, programDateTime: pdt, duration });
      pendingDiscontinuity = false;
      partsSinceSegment = 0;
      msn++;
    }
  }
  return {
    mediaSequence,
    discontinuitySequence: number('#EXT-X-DISCONTINUITY-SEQUENCE'),
    discontinuities: lines.filter((l) => l === '#EXT-X-DISCONTINUITY').length,
    lastMsn: partsSinceSegment > 0 ? msn : msn - 1,
    parts: partUris.length,
    segments,
    partUris,
    endList: lines.includes('#EXT-X-ENDLIST'),
  };
}
