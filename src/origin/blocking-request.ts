import { lastPosition, type MediaPlaylist } from '../hls/playlist-model.js';
import type { SkipMode } from './origin-source.js';

/**
 * Pure rules of blocking playlist reload and delta updates (draft-pantos-hls-rfc8216bis §6.2.5).
 *
 * Decision on `_HLS_msn` without `_HLS_part` (what Safari sends): §6.2.5.2 says the server "MUST
 * hold the request until a Playlist contains a Media Segment with a Media Sequence Number of M or
 * later". A Media Segment is a complete segment (EXTINF + URI); the parts of the segment still being
 * built are Partial Segments, not a Media Segment. So `_HLS_msn=M` alone blocks until segment M is
 * complete, i.e. listed in `segments`. Answering as soon as the pending segment M has a part would
 * hand Safari a playlist without segment M, it would ask again at once: the request loop that
 * freezes Safari.
 */

export interface BlockingQuery {
  /** `_HLS_msn` */
  msn?: number;
  /** `_HLS_part` (only with `msn`) */
  part?: number;
  /** `_HLS_skip` */
  skip?: SkipMode;
}

export type QueryCheck = { ok: true; query: BlockingQuery } | { ok: false; reason: string };

const DIGITS = /^\d{1,15}$/;

/**
 * Parses the raw query string (without `?`). Unknown parameters (cache busters, CDN tokens) are
 * ignored; the three `_HLS_` directives must appear at most once, with a value that is a plain
 * decimal number (`_HLS_msn`, `_HLS_part`) or `YES`/`v2` (`_HLS_skip`). Values are not
 * percent-decoded: a legitimate client never encodes digits.
 */
export function parseBlockingQuery(rawQuery: string | undefined): QueryCheck {
  const query: BlockingQuery = {};
  if (rawQuery === undefined || rawQuery === '') return { ok: true, query };
  if (rawQuery.length > 1024) return { ok: false, reason: 'query too long' };
  for (const pair of rawQuery.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const name = eq === -1 ? pair : pair.slice(0, eq);
    if (name !== '_HLS_msn' && name !== '_HLS_part' && name !== '_HLS_skip') continue;
    if (eq === -1) return { ok: false, reason: `${name} has no value` };
    const value = pair.slice(eq + 1);
    if (name === '_HLS_skip') {
      if (query.skip !== undefined) return { ok: false, reason: '_HLS_skip repeated' };
      if (value !== 'YES' && value !== 'v2') return { ok: false, reason: '_HLS_skip must be YES or v2' };
      query.skip = value;
      continue;
    }
    if (!DIGITS.test(value)) return { ok: false, reason: `${name} is not a number` };
    const n = Number(value);
    if (name === '_HLS_msn') {
      if (query.msn !== undefined) return { ok: false, reason: '_HLS_msn repeated' };
      query.msn = n;
    } else {
      if (query.part !== undefined) return { ok: false, reason: '_HLS_part repeated' };
      query.part = n;
    }
  }
  if (query.part !== undefined && query.msn === undefined) return { ok: false, reason: '_HLS_part without _HLS_msn' };
  return { ok: true, query };
}

/**
 * Advance Part Limit (§6.2.5.2): "3 divided by the Part Target Duration if the Part Target Duration
 * is less than 1 second, or 3 otherwise".
 */
export function advancePartLimit(partTarget: number): number {
  return partTarget > 0 && partTarget < 1 ? 3 / partTarget : 3;
}

/** Msn of the last complete segment; `mediaSequence - 1` when none is complete yet. */
export function lastCompleteMsn(model: MediaPlaylist): number {
  const last = model.segments[model.segments.length - 1];
  return last ? last.msn : model.mediaSequence - 1;
}

/**
 * How many parts past the last listed part the position (msn, part) lies; ≤ 0 when already listed
 * (or older). Segments not yet started are assumed to hold `ceil(targetDuration / partTarget)` parts.
 */
export function partsAhead(model: MediaPlaylist, msn: number, part: number): number {
  const last = lastPosition(model);
  if (msn < last.msn) return 0;
  if (msn === last.msn) return part - last.part;
  const perSegment = Math.max(1, Math.ceil(model.targetDuration / model.partTarget));
  return part + 1 + (msn - last.msn - 1) * perSegment;
}

/**
 * Why the blocking request must get 400 at once (§6.2.5.2), or undefined when it is acceptable:
 * `_HLS_msn` greater than the last segment's msn + 2, or `_HLS_part` beyond the Advance Part Limit.
 * Both directives are ignored once the playlist has EXT-X-ENDLIST.
 */
export function blockingRequestError(model: MediaPlaylist, query: BlockingQuery): string | undefined {
  if (model.endList || query.msn === undefined) return undefined;
  if (query.msn > lastCompleteMsn(model) + 2) return '_HLS_msn is more than 2 segments ahead';
  if (query.part !== undefined && partsAhead(model, query.msn, query.part) > advancePartLimit(model.partTarget)) {
    return '_HLS_part is beyond the advance part limit';
  }
  return undefined;
}

/**
 * Whether the playlist satisfies a blocking request: it contains segment `msn` (complete) or later,
 * or, with `part`, partial segment `part` of segment `msn` or later. A part index past the last part
 * of a complete segment means part 0 of the next segment. Always true after EXT-X-ENDLIST.
 */
export function playlistContains(model: MediaPlaylist, msn: number, part?: number): boolean {
  if (model.endList) return true;
  const complete = lastCompleteMsn(model);
  if (part === undefined) return complete >= msn;
  if (msn <= complete) {
    const first = model.segments[0];
    const segment = first ? model.segments[msn - first.msn] : undefined;
    // Older than the playlist window: later content exists.
    if (!segment) return true;
    if (part < segment.parts.length) return true;
    // Past the segment's last part: part 0 of segment msn + 1.
    return complete >= msn + 1 || (model.pending?.msn === msn + 1 && model.pending.parts.length > 0);
  }
  return model.pending?.msn === msn && part < model.pending.parts.length;
}

/** Cache key of a waiting condition, so identical waiters are tested once per change. */
export function conditionKey(msn: number, part: number | undefined): string {
  return part === undefined ? `${msn}` : `${msn}.${part}`;
}

/**
 * Resolves a playlist-relative URI against the playlist's channel-relative path (`v0/playlist.m3u8`)
 * into a channel-relative path, or undefined if it leaves the channel.
 */
export function resolvePlaylistUri(playlistPath: string, uri: string): string | undefined {
  let resolved: URL;
  try {
    resolved = new URL(uri, `http://origin.invalid/c/${playlistPath}`);
  } catch {
    return undefined;
  }
  if (resolved.host !== 'origin.invalid' || !resolved.pathname.startsWith('/c/')) return undefined;
  return resolved.pathname.slice(3);
}

export type MediaAvailability =
  /** Named by the playlist (a part, segment or map): it exists in storage. */
  | 'listed'
  /** Not there yet but coming: the preload hint, a part just ahead, or the segment being built. */
  | 'awaited'
  /** Neither known nor hinted: 404. */
  | 'unknown';

export interface MediaRef {
  /** Channel-relative path of the requested file, e.g. `v0/part-12-3.m4s`. */
  path: string;
  kind: 'init' | 'part' | 'segment' | 'media';
  msn?: number;
  partIndex?: number;
}

/**
 * What a media playlist says about a media file that storage did not have (§6.2.5.3 preload hints:
 * the hinted resource is requestable as soon as the hint appears and is answered when complete).
 * Besides the hinted part, parts within the Advance Part Limit of the live edge and the segment
 * being built are awaited, so a player that runs slightly ahead of the hint is held, not 404ed.
 */
export function mediaAvailability(model: MediaPlaylist, playlistPath: string, ref: MediaRef): MediaAvailability {
  const is = (uri: string) => resolvePlaylistUri(playlistPath, uri) === ref.path;
  for (const segment of model.segments) {
    if (is(segment.uri) || is(segment.mapUri)) return 'listed';
    for (const p of segment.parts) if (is(p.uri)) return 'listed';
  }
  if (model.pending) {
    if (is(model.pending.mapUri)) return 'listed';
    for (const p of model.pending.parts) if (is(p.uri)) return 'listed';
  }
  if (model.endList) return 'unknown';
  if (model.preloadHint && is(model.preloadHint.uri)) return 'awaited';
  // Guessing by name only applies to files beside the playlist (the shared key layout).
  const name = ref.path.slice(ref.path.lastIndexOf('/') + 1);
  if (!is(name)) return 'unknown';
  if (ref.kind === 'part' && ref.msn !== undefined && ref.partIndex !== undefined) {
    const ahead = partsAhead(model, ref.msn, ref.partIndex);
    if (ahead > 0 && ahead <= advancePartLimit(model.partTarget)) return 'awaited';
  }
  if (ref.kind === 'segment' && ref.msn !== undefined && ref.msn === lastCompleteMsn(model) + 1) return 'awaited';
  return 'unknown';
}
